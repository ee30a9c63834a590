import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { JOB_SIGNALS } from "../control/index.ts";
import { connect, ctlArgs, expectList, positionals } from "./args.ts";
import { jobIds, jobsQuery } from "./job-args.ts";
import { eachJob } from "./job-each.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "cancel",
    description: "End pending or running jobs as KILLED, printing 'ID KILLED'; or, with --signal, send them a signal; exit 1 if any could not be (needs an admin token)",
    examples: ["lava ctl cancel 42 43 44", "lava ctl cancel --user alice --state PEND", "lava ctl cancel --signal USR1 42"],
  }),
  args: {
    ...ctlArgs,
    id: { type: "positional", required: false, description: "Job ids: ID ID… (an array id: all its elements; ID[INDEX]: one element); or none with --user/--state" },
    user: { type: "string", description: "Every job of this token subject (with --state: only those in it)", valueHint: "USER" },
    state: { type: "string", description: "With --user: only jobs in these states (PEND, RUN; comma-separated)", valueHint: "S[,S]" },
    signal: { type: "string", description: `Send this signal to the running job's processes instead of ending it (${JOB_SIGNALS.map((s) => s.slice(3)).join(", ")})`, valueHint: "NAME" },
  },
  async run({ args }) {
    const given = positionals(args);
    if (given.length > 0 && (args.user !== undefined || args.state !== undefined)) throw new LavaError("cancel: give job ids, or --user/--state, not both", "usage");
    if (given.length === 0 && args.user === undefined) throw new LavaError("cancel needs job ids, or --user USER [--state S]", "usage");
    if (args.state !== undefined && args.user === undefined) throw new LavaError("cancel --state needs --user (which user's jobs)", "usage");
    const signal = args.signal === undefined ? undefined : signalName(args.signal);
    let ids: string[];
    const ctx = connect(args);
    if (given.length > 0) ids = jobIds(given, "cancel");
    else {
      // Elements one by one: --state PEND must not touch an array's running elements.
      const query = jobsQuery({ user: args.user, state: args.state ?? "PEND,RUN", limit: "100000" });
      const path = `/api/v1/jobs?${query}&elements=1`;
      ids = expectList(await ctx.client.get(path), `GET ${path}`).map((j) => String(j.id));
      if (ids.length === 0) {
        if (!ctx.json) console.error(`lava: no job of ${args.user}${args.state ? ` in ${args.state}` : " pending or running"}`);
        else console.log("[]");
        return;
      }
    }
    if (signal !== undefined) {
      await eachJob(ctx, ids, "signal", (id) => `/api/v1/jobs/${encodeURIComponent(id)}/signal`, { signal }, (id) => `${id} ${signal}`);
      return;
    }
    await eachJob(ctx, ids, "cancel", (id) => `/api/v1/jobs/${encodeURIComponent(id)}/cancel`, undefined, (id, a) => `${id} ${typeof a.state === "string" ? a.state : "KILLED"}`);
  },
});

/** "USR1", "sigusr1", "SIGUSR1" → "SIGUSR1"; a usage error if it is not one a job may be sent. */
function signalName(raw: string): (typeof JOB_SIGNALS)[number] {
  const up = raw.trim().toUpperCase();
  const name = up.startsWith("SIG") ? up : `SIG${up}`;
  if (!(JOB_SIGNALS as readonly string[]).includes(name)) throw new LavaError(`--signal takes one of ${JOB_SIGNALS.map((s) => s.slice(3)).join(", ")}; got "${raw}"`, "usage");
  return name as (typeof JOB_SIGNALS)[number];
}
