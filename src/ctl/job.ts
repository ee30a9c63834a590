import { defineCommand } from "citty";
import { connect, ctlArgs, expectObject, oneName } from "./args.ts";
import { jobId } from "./job-args.ts";
import { print, printJson } from "./output.ts";
import { jobText } from "./views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "job",
    description: "One job: request, state, why it waits, history, stdout and stderr; an unknown job exits 1",
    examples: ["lava ctl job 42", "lava ctl job 42 --json"],
  }),
  args: {
    ...ctlArgs,
    id: { type: "positional", description: "The job's id (lava ctl submit printed it)" },
  },
  async run({ args }) {
    const id = jobId(oneName(args, "job ID", "job"), "job");
    const ctx = connect(args);
    const path = `/api/v1/jobs/${id}`;
    const job = expectObject(await ctx.client.get(path), `GET ${path}`);
    if (ctx.json) await printJson(job);
    else await print(jobText(job));
  },
});
