import { defineCommand } from "citty";
import { EXIT, ExitRequest } from "../cli/errors.ts";
import { connect, ctlArgs, positionals } from "./args.ts";
import { LavaError } from "../errors.ts";
import { print, printJson } from "./output.ts";
import { upgradeLine } from "./remote-views.ts";
import { eachEvent, targetArgs, targetBody } from "./stream.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "upgrade",
    description: "Update agents to the master's own lava binary, wave by wave (master.upgrade.waveSize); exit 0 only if every host ends on the master's version (needs an admin token)",
    examples: ["lava ctl upgrade --all", "lava ctl upgrade --hosts n1,n2 --json"],
  }),
  args: { ...ctlArgs, ...targetArgs },
  async run({ args }) {
    if (positionals(args).length > 0) throw new LavaError(`upgrade takes no words, got ${positionals(args).join(" ")}; name hosts with --hosts A,B`, "usage");
    const body = targetBody(args, "upgrade");
    const ctx = connect({ ...args, timeout: undefined });
    const res = await ctx.client.stream("POST", "/api/v1/upgrade", body);
    const hosts: Record<string, unknown>[] = [];
    let done: Record<string, unknown> | null = null;
    await eachEvent(res.body, "POST /api/v1/upgrade", async (e) => {
      if (e.type === "host") {
        const { type: _type, ...host } = e;
        hosts.push(host);
      }
      if (e.type === "done") done = e;
      if (!ctx.json) {
        const line = upgradeLine(e);
        if (line !== null) await print(line);
      }
    });
    if (ctx.json) await printJson(hosts.sort((a, b) => String(a.host).localeCompare(String(b.host))));
    if (done === null) throw new LavaError("the master ended the upgrade's answer early; see lava ctl audit --action upgrade.result and lava ctl hosts", "failed");
    if (!hosts.every((h) => h.status === "ok" || h.status === "current")) throw new ExitRequest(EXIT.failed);
  },
});
