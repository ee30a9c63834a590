import { defineCommand } from "citty";
import { connect, ctlArgs, expectList } from "./args.ts";
import { print, printJson } from "./output.ts";
import { alertsTable } from "./remote-views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "alerts", description: "Active alerts, critical first; --all adds the recently resolved ones", examples: ["lava ctl alerts", "lava ctl alerts --all --json"] }),
  args: {
    ...ctlArgs,
    all: { type: "boolean", description: "Also the recently resolved alerts (newest first, after the active ones)" },
  },
  async run({ args }) {
    const ctx = connect(args);
    const path = `/api/v1/alerts${args.all ? "?all=1" : ""}`;
    const rows = expectList(await ctx.client.get(path), `GET ${path}`);
    if (ctx.json) await printJson(rows);
    else await print(rows.length === 0 ? (args.all ? "no alerts" : "no active alerts") : alertsTable(rows, Date.now()));
  },
});
