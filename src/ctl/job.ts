import { defineCommand } from "citty";
import { connect, ctlArgs, expectObject, oneName } from "./args.ts";
import { jobId, jobPath } from "./job-args.ts";
import { followOutput } from "./job-output.ts";
import { print, printJson } from "./output.ts";
import { jobText } from "./views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "job",
    description: "One job: request, state, why it waits, attempts with their accounting, history, stdout and stderr; an unknown job exits 1",
    examples: ["lava ctl job 42", "lava ctl job 42 --follow", "lava ctl job '1000[7]' --json"],
  }),
  args: {
    ...ctlArgs,
    id: { type: "positional", description: "The job's id (lava ctl submit printed it), or ID[INDEX] for an array element" },
    follow: { type: "boolean", alias: "f", description: "Stream its stdout and stderr while it runs, then show the job when it ends" },
  },
  async run({ args }) {
    const id = jobId(oneName(args, "job ID", "job"), "job");
    const ctx = connect(args);
    if (args.follow) await followOutput(ctx.client, id, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
    const job = expectObject(await ctx.client.get(jobPath(id)), `GET ${jobPath(id)}`);
    if (ctx.json) await printJson(job);
    else if (args.follow) await print(`\njob ${id} ended ${String(job.state)}${typeof job.exitCode === "number" ? ` (exit ${job.exitCode})` : ""}${typeof job.reason === "string" ? `: ${job.reason}` : ""}`);
    else await print(jobText(job));
  },
});
