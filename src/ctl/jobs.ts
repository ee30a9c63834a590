import { defineCommand } from "citty";
import { connect, ctlArgs, expectList } from "./args.ts";
import { jobsQuery } from "./job-args.ts";
import { print, printJson } from "./output.ts";
import { jobsTable } from "./views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "jobs",
    description: "Jobs, oldest first: state, user, queue, host, exit code, elapsed, submit time (UTC), command; an array is one row with its counts",
    examples: ["lava ctl jobs", "lava ctl jobs --state PEND,RUN --user alice --wide", "lava ctl jobs --array 1000 --json"],
  }),
  args: {
    ...ctlArgs,
    state: { type: "string", description: "Only jobs in these states: PEND, RUN, DONE, EXIT, KILLED, LOST (comma-separated)", valueHint: "S[,S]" },
    host: { type: "string", description: "Only jobs placed on this host (an unknown host exits 1)", valueHint: "HOST" },
    queue: { type: "string", description: "Only jobs of this queue", valueHint: "Q" },
    user: { type: "string", description: "Only jobs submitted by this token subject", valueHint: "USER" },
    array: { type: "string", description: "The elements of this array, one row each", valueHint: "ID" },
    wide: { type: "boolean", description: "More columns: CPUS MEM GPUS STARTED NAME, and the whole command" },
    limit: { type: "string", description: "At most this many jobs", valueHint: "N" },
  },
  async run({ args }) {
    const query = jobsQuery(args);
    const ctx = connect(args);
    const path = `/api/v1/jobs${query ? `?${query}` : ""}`;
    const rows = expectList(await ctx.client.get(path), `GET ${path}`);
    if (ctx.json) await printJson(rows);
    else await print(jobsTable(rows, args.wide === true));
  },
});
