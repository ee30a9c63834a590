import { defineCommand } from "citty";
import { connect, ctlArgs, expectList } from "./args.ts";
import { print, printJson } from "./output.ts";
import { hostsTable } from "./views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "hosts", description: "Registered hosts: id, state, hardware, OS, agent version, control channel (CONN)", examples: ["lava ctl hosts", "lava ctl hosts --json"] }),
  args: { ...ctlArgs },
  async run({ args }) {
    const ctx = connect(args);
    const rows = expectList(await ctx.client.get("/api/v1/hosts"), "GET /api/v1/hosts");
    if (ctx.json) await printJson(rows);
    else await print(hostsTable(rows));
  },
});
