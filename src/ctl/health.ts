import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { connect, ctlArgs, expectList, expectObject, positionals, segment } from "./args.ts";
import { print, printJson } from "./output.ts";
import { healthDetail, healthTable } from "./remote-views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "health",
    description: "Hosts' latest self-checks (status is the worst check); with HOST its checks one by one, --refresh asks the host now",
    examples: ["lava ctl health", "lava ctl health node7 --refresh"],
  }),
  args: {
    ...ctlArgs,
    host: { type: "positional", required: false, description: "One host: its checks with their details" },
    refresh: { type: "boolean", description: "Ask the host to run its checks now and wait for them (needs HOST)" },
  },
  async run({ args }) {
    const names = positionals(args);
    if (names.length > 1) throw new LavaError(`health takes at most one HOST, got ${names.join(" ")}`, "usage");
    const host = names[0];
    if (args.refresh && host === undefined) throw new LavaError("--refresh needs a HOST: lava ctl health HOST --refresh", "usage");
    const ctx = connect(args);
    if (host === undefined) {
      const rows = expectList(await ctx.client.get("/api/v1/health"), "GET /api/v1/health");
      if (ctx.json) await printJson(rows);
      else await print(healthTable(rows, Date.now()));
      return;
    }
    // The master waits --timeout for the agent and then answers (a host that does not answer is its 409);
    // this client waits for that answer with room to spare, so it is never "no master reachable" instead.
    const waitSec = Math.min(300, Math.max(0.1, +ctx.config.timeout.toFixed(3)));
    const path = `/api/v1/health/${segment(host)}${args.refresh ? `?refresh=1&timeout=${waitSec}` : ""}`;
    const client = args.refresh ? ctx.client.holding(waitSec * 1000) : ctx.client;
    const row = expectObject(await client.get(path), `GET ${path}`);
    if (ctx.json) await printJson(row);
    else await print(healthDetail(row, Date.now()));
  },
});
