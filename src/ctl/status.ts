import { defineCommand } from "citty";
import { connect, ctlArgs, expectObject } from "./args.ts";
import { print, printJson } from "./output.ts";
import { statusText } from "./views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "status", description: "The master: version, uptime, hosts by state, reports accepted and dropped (by reason)", examples: ["lava ctl status", "lava ctl status --json"] }),
  args: { ...ctlArgs },
  async run({ args }) {
    const ctx = connect(args);
    const status = expectObject(await ctx.client.get("/api/v1/status"), "GET /api/v1/status");
    if (ctx.json) await printJson(status);
    else await print(statusText(status));
  },
});
