import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";
import { connect, ctlArgs, expectList } from "./args.ts";
import { approvalsTable } from "./views.ts";
import { print, printJson } from "./output.ts";

export default defineCommand({
  meta: meta({ name: "approvals", description: "Requests waiting for a second admin (lava ctl approve ID / deny ID); --all adds the decided and expired ones (needs an admin token); times in UTC", examples: ["lava ctl approvals", "lava ctl approvals --all --json"] }),
  args: {
    ...ctlArgs,
    all: { type: "boolean", description: "Also approved, denied and expired requests (the newest 1000)" },
  },
  async run({ args }) {
    const ctx = connect(args);
    const path = args.all ? "/api/v1/approvals?all=1" : "/api/v1/approvals";
    const rows = expectList(await ctx.client.get(path), `GET ${path}`);
    if (ctx.json) await printJson(rows);
    else await print(approvalsTable(rows, args.all === true));
  },
});
