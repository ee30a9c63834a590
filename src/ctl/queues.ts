import { defineCommand } from "citty";
import { connect, ctlArgs, expectList } from "./args.ts";
import { print, printJson } from "./output.ts";
import { queuesTable } from "./views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "queues", description: "Queues (like bqueues/sinfo): priority, running limit, jobs running and pending, open hosts of the pool, users allowed", examples: ["lava ctl queues", "lava ctl queues --json"] }),
  args: { ...ctlArgs },
  async run({ args }) {
    const ctx = connect(args);
    const rows = expectList(await ctx.client.get("/api/v1/queues"), "GET /api/v1/queues");
    if (ctx.json) await printJson(rows);
    else await print(queuesTable(rows));
  },
});
