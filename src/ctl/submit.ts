import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { commandLine, connect, ctlArgs, expectObject, repeatedFlag } from "./args.ts";
import { MasterError } from "./client.ts";
import { submitRequest } from "./job-args.ts";
import { print, printJson } from "./output.ts";
import { printHeld } from "./approval-view.ts";
import { meta } from "../cli/meta.ts";

const args = {
  ...ctlArgs,
  cpus: { type: "string", description: "CPUs to reserve (default 1)", valueHint: "N" },
  mem: { type: "string", description: "Memory to reserve: bytes, or with K, M, G, T in powers of 1024 like 512M, 2G (default none)", valueHint: "SIZE" },
  gpus: { type: "string", description: "GPUs to reserve; the job sees them in CUDA_VISIBLE_DEVICES (default 0)", valueHint: "N" },
  "time-limit": { type: "string", description: "Kill the job (KILLED) after it has run this many seconds (default none)", valueHint: "SECONDS" },
  // Replaces ctlArgs.timeout here: the old spelling of --time-limit (design §8), kept working. Each request to the master then waits LAVA_TIMEOUT or ctl.timeout.
  timeout: { type: "string", description: "Old spelling of --time-limit (deprecated)", valueHint: "SECONDS" },
  retries: { type: "string", description: "Run it again this many times if its host dies (default the master's)", valueHint: "N" },
  priority: { type: "string", description: "Higher runs first; equal priorities in submission order (default 0)", valueHint: "P" },
  queue: { type: "string", description: "The queue to submit to (default the master's)", valueHint: "Q" },
  env: { type: "string", description: "Set a variable for the job; repeat for more (--env A=1 --env B=2)", valueHint: "NAME=VALUE" },
  cwd: { type: "string", description: "Directory to run in, on the host that runs the job (default the job user's home)", valueHint: "DIR" },
  name: { type: "string", description: "A name for the job (shown by jobs; LAVA_JOB_NAME)", valueHint: "NAME" },
  output: { type: "string", alias: "o", description: "Write stdout to this file on the host instead of capturing it; %j job id, %a array index", valueHint: "FILE" },
  error: { type: "string", alias: "e", description: "Write stderr to this file on the host (the same file as -o: both go there)", valueHint: "FILE" },
  array: { type: "string", description: "An array of jobs: A-B[:STEP][%MAX] (index in LAVA_ARRAY_INDEX; %MAX: most running at once)", valueHint: "A-B[:S][%M]" },
  "after-ok": { type: "string", description: "Start after these jobs ended DONE (ends KILLED if one cannot)", valueHint: "IDS" },
  "after-any": { type: "string", description: "Start after these jobs ended, however", valueHint: "IDS" },
  "after-not-ok": { type: "string", description: "Start after these jobs ended other than DONE", valueHint: "IDS" },
  begin: { type: "string", description: "Not before this time: +1h, +30m, 22:00, 2026-12-24T22:00", valueHint: "TIME" },
  hosts: { type: "string", description: "Run only on these hosts (names or * ? patterns, comma-separated)", valueHint: "H[,H]" },
  exclude: { type: "string", description: "Never run on these hosts (names or patterns)", valueHint: "H[,H]" },
  constraint: { type: "string", description: "Run only on hosts with all these labels (agent.labels)", valueHint: "L[,L]" },
  exclusive: { type: "boolean", description: "Take a whole host: nothing else runs there beside it" },
  hold: { type: "boolean", description: "Submit held: it waits until lava ctl release ID" },
  argv: { type: "positional", required: false, description: "After --: the command and its arguments, passed as given (never through a shell); required" },
} as const;

export default defineCommand({
  meta: meta({
    name: "submit",
    description: "Submit a job: lava ctl submit [flags] -- ARGV… (run as is, no shell); prints its id alone (needs an admin token)",
    usage: "-- COMMAND [ARG…]",
    examples: ["lava ctl submit --cpus 2 --mem 4G --retries 2 -- ./simulate --steps 1000", "lava ctl submit --array 1-1000%50 -o 'out.%j.%a' -- ./task", "lava ctl submit --after-ok 41 --name report -- ./report"],
  }),
  args,
  async run({ args: parsed, rawArgs }) {
    const { argv, stray } = commandLine(parsed, rawArgs);
    const body = submitRequest(parsed, argv, repeatedFlag(rawArgs, "env", args), stray);
    if (parsed.timeout !== undefined) console.error("lava: submit --timeout is deprecated: it is the job's time limit, now --time-limit (the same seconds)");
    const ctx = connect({ ...parsed, timeout: undefined });
    let answer: Record<string, unknown>;
    try {
      answer = expectObject(await ctx.client.post("/api/v1/jobs", body), "POST /api/v1/jobs");
    } catch (e) {
      // The master refusing what was asked (a bad array range, an unknown dependency or label, a request no host could hold) is a usage error.
      if (e instanceof MasterError && e.status === 400) throw new LavaError(e.message, "usage");
      throw e;
    }
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
      throw new LavaError("the master's answer to POST /api/v1/jobs has no job id", "failed");
    }
    await print(String(answer.id));
  },
});
