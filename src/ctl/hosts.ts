import { defineCommand } from "citty";
import { connect, ctlArgs, expectList } from "./args.ts";
import { print, printJson } from "./output.ts";
import { hostsTable } from "./views.ts";

export default defineCommand({
  meta: { name: "hosts", description: "Registered hosts: id, state, hardware, OS, agent version, control channel (CONN)" },
  args: { ...ctlArgs },
  async run({ args }) {
    const ctx = connect(args);
    const rows = expectList(await ctx.client.get("/api/v1/hosts"), "GET /api/v1/hosts");
    if (ctx.json) await printJson(rows);
    else await print(hostsTable(rows));
  },
});
