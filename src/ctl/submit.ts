import { defineCommand } from "citty";
import { EXIT, LavaError } from "../cli/errors.ts";
import { commandLine, connect, ctlArgs, expectObject, repeatedFlag } from "./args.ts";
import { submitRequest } from "./job-args.ts";
import { print, printJson } from "./output.ts";
import { printHeld } from "./approval-view.ts";
import { meta } from "../cli/meta.ts";

const args = {
  ...ctlArgs,
  cpus: { type: "string", description: "CPUs to reserve (default 1)", valueHint: "N" },
  mem: { type: "string", description: "Memory to reserve: bytes, or with K, M, G, T in powers of 1024 like 512M, 2G (default none)", valueHint: "SIZE" },
  gpus: { type: "string", description: "GPUs to reserve (default 0)", valueHint: "N" },
  // Replaces ctlArgs.timeout here: the job's limit (design §8). Each request to the master then waits LAVA_TIMEOUT or ctl.timeout.
  timeout: { type: "string", description: "Kill the job (KILLED) after it has run this many seconds (default none)", valueHint: "SECONDS" },
  retries: { type: "string", description: "Run it again this many times if its host dies (default the master's)", valueHint: "N" },
  priority: { type: "string", description: "Higher runs first; equal priorities in submission order (default 0)", valueHint: "P" },
  queue: { type: "string", description: "The queue to submit to (default the master's)", valueHint: "Q" },
  env: { type: "string", description: "Set a variable for the job; repeat for more (--env A=1 --env B=2)", valueHint: "NAME=VALUE" },
  cwd: { type: "string", description: "Directory to run in, on the host that runs the job", valueHint: "DIR" },
  argv: { type: "positional", required: false, description: "After --: the command and its arguments, passed as given (never through a shell); required" },
} as const;

export default defineCommand({
  meta: meta({
    name: "submit",
    description: "Submit a job: lava ctl submit [flags] -- ARGV… (run as is, no shell); prints its id alone (needs an admin token)",
    usage: "-- COMMAND [ARG…]", examples: ["lava ctl submit -- /bin/sleep 60", "id=$(lava ctl submit --cpus 2 --mem 4G --retries 2 -- ./simulate --steps 1000)"],
  }),
  args,
  async run({ args: parsed, rawArgs }) {
    const { argv, stray } = commandLine(parsed, rawArgs);
    const body = submitRequest(parsed, argv, repeatedFlag(rawArgs, "env", args), stray);
    const ctx = connect({ ...parsed, timeout: undefined });
    const answer = expectObject(await ctx.client.post("/api/v1/jobs", body), "POST /api/v1/jobs");
    // A queue with requireApproval holds the job: the approval id, not a job id (docs/api.md "Approvals").
    if (answer.pending === true) {
      await printHeld(answer, ctx.json);
      return;
    }
    if (ctx.json) {
      await printJson(answer);
      return;
    }
    if (typeof answer.id !== "number" && typeof answer.id !== "string") {
      throw new LavaError("the master's answer to POST /api/v1/jobs has no job id", EXIT.failed);
    }
    await print(String(answer.id));
  },
});
