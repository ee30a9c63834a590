import { defineCommand } from "citty";
import { connect, ctlArgs, expectList } from "./args.ts";
import { jobsQuery } from "./job-args.ts";
import { print, printJson } from "./output.ts";
import { jobsTable } from "./views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "jobs", description: "Jobs, oldest first: state, queue, host, exit code, request, submit time (UTC), command", examples: ["lava ctl jobs", "lava ctl jobs --state PEND,RUN --json"] }),
  args: {
    ...ctlArgs,
    state: { type: "string", description: "Only jobs in these states: PEND, RUN, DONE, EXIT, KILLED, LOST (comma-separated)", valueHint: "S[,S]" },
    host: { type: "string", description: "Only jobs placed on this host", valueHint: "HOST" },
    queue: { type: "string", description: "Only jobs of this queue", valueHint: "Q" },
    limit: { type: "string", description: "At most this many jobs", valueHint: "N" },
  },
  async run({ args }) {
    const query = jobsQuery(args);
    const ctx = connect(args);
    const path = `/api/v1/jobs${query ? `?${query}` : ""}`;
    const rows = expectList(await ctx.client.get(path), `GET ${path}`);
    if (ctx.json) await printJson(rows);
    else await print(jobsTable(rows));
  },
});
