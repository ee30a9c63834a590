/** Job routes (docs/api.md "Jobs"): submit, list, show, cancel. */
import * as v from "valibot";
import { JOB_LIMITS } from "../../control/index.ts";
import { neverFits } from "../../jobs/index.ts";
import { jobById, jobHistoryOf, listJobs, type JobRow } from "../../store/index.ts";
import type { MasterContext } from "../context.ts";
import type { ChangeRoute } from "./api.ts";
import { linearizable, parseBody } from "./api.ts";
import { HttpError, json } from "./errors.ts";
import { readJson, type Router } from "./router.ts";
import { holdJobForApproval } from "./approval-hold.ts";

const SubmitSchema = v.strictObject({
  argv: v.pipe(v.array(v.pipe(v.string(), v.maxLength(JOB_LIMITS.argBytes))), v.minLength(1, "argv must name a command"), v.maxLength(JOB_LIMITS.argvItems)),
  cpus: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1 << 16)), 1),
  memBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 53)), 0),
  gpus: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1024)), 0),
  priority: v.optional(v.pipe(v.number(), v.integer(), v.minValue(-1000), v.maxValue(1000)), 0),
  queue: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64)), "default"),
  timeoutSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(365 * 86400))),
  retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100)), 0),
  env: v.optional(v.pipe(v.record(v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names: letters, digits, _")), v.pipe(v.string(), v.maxLength(JOB_LIMITS.argBytes))), v.check((e) => Object.keys(e).length <= JOB_LIMITS.envItems, "too many env entries"))),
  cwd: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
});

const FINAL = new Set(["DONE", "EXIT", "KILLED", "LOST"]);
const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

export function jobView(ctx: MasterContext, r: Omit<JobRow, "stdout" | "stderr">) {
  const live = ctx.jobs.active.get(r.id);
  return {
    id: r.id,
    state: r.state,
    host: r.hostname,
    exitCode: r.exitCode,
    queue: r.queue,
    priority: r.priority,
    cpus: r.cpus,
    memBytes: r.memBytes,
    gpus: r.gpus,
    argv: JSON.parse(r.argv) as string[],
    submittedAt: iso(r.submittedAt),
    submittedBy: r.submittedBy,
    dispatchedAt: iso(r.dispatchedAt),
    startedAt: iso(live?.startedAt ?? r.startedAt),
    finishedAt: iso(r.finishedAt),
    attempts: r.attempts,
    signal: r.signal,
    reason: r.reason,
    waiting: r.state === "PEND" ? (ctx.jobs.waiting.get(r.id) ?? "waiting for the next scheduling round") : null,
  };
}

export function jobRoutes(r: Router, ctx: MasterContext, change: ChangeRoute): void {
  change("POST", "/api/v1/jobs", "job.submit", () => null, async (req, _p, _url, c) => {
    const body = parseBody(SubmitSchema, await readJson(req));
    const queues = ctx.jobs.queues();
    const queue = queues.get(body.queue);
    if (!queue) throw new HttpError(400, "unknown_queue", `no queue named '${body.queue}' (configured: ${[...queues.keys()].join(", ")})`);
    const users = ctx.config.queues[body.queue]?.users ?? [];
    if (users.length > 0 && !users.includes(c.caller.sub)) throw new HttpError(403, "forbidden", `queue '${body.queue}' takes jobs from ${users.join(", ")} only, not '${c.caller.sub}'`);
    const never = neverFits({ cpus: body.cpus, memBytes: body.memBytes, gpus: body.gpus, queue: body.queue }, ctx.jobs.schedHosts(), queue);
    if (never) throw new HttpError(400, "never_fits", never);
    const submit = {
      type: "job.submit" as const,
      argv: body.argv,
      cpus: body.cpus,
      memBytes: body.memBytes,
      gpus: body.gpus,
      priority: body.priority,
      queue: body.queue,
      retries: body.retries,
      ...(body.timeoutSeconds ? { timeoutSec: body.timeoutSeconds } : {}),
      ...(body.env ? { env: body.env } : {}),
      ...(body.cwd ? { cwd: body.cwd } : {}),
    };
    // A queue with requireApproval holds the job for a second admin (approval-hold.ts).
    const held = await holdJobForApproval(ctx, c, submit);
    if (held) return held;
    const applied = await c.commit(submit);
    const row = jobById(ctx.state.store.db, applied.result.ok ? (applied.result.value!.jobId as number) : 0)!;
    return json(jobView(ctx, row), 201);
  });

  r.on("GET", "/api/v1/jobs", linearizable(ctx, (req, _p, url) => {
    ctx.gate.check(req, url, "read");
    const q = url.searchParams;
    const states = q.get("state")?.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
    const limitRaw = q.get("limit");
    const limit = limitRaw === null ? 1000 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new HttpError(400, "bad_request", `limit: a whole number from 1 to 100000; got '${limitRaw}'`);
    const rows = listJobs(ctx.state.store.db, { ...(states ? { states } : {}), ...(q.get("host") ? { hostname: q.get("host")! } : {}), ...(q.get("queue") ? { queue: q.get("queue")! } : {}), limit });
    return json(rows.map((row) => jobView(ctx, row)));
  }));

  const one = (raw: string | undefined): JobRow => {
    const id = Number(raw);
    const row = Number.isInteger(id) && id > 0 ? jobById(ctx.state.store.db, id) : undefined;
    if (!row) throw new HttpError(404, "unknown_job", `no job ${raw} (see 'lava ctl jobs')`);
    return row;
  };

  r.on("GET", "/api/v1/jobs/:id", linearizable(ctx, (req, p, url) => {
    ctx.gate.check(req, url, "read");
    const row = one(p.id);
    return json({
      ...jobView(ctx, row),
      stdout: row.stdout ?? "",
      stderr: row.stderr ?? "",
      stdoutTruncated: row.stdoutTruncated,
      stderrTruncated: row.stderrTruncated,
      env: row.env ? JSON.parse(row.env) : {},
      cwd: row.cwd,
      timeoutSeconds: row.timeoutSec,
      retries: row.retries,
      history: jobHistoryOf(ctx.state.store.db, row.id).map((h) => ({ at: iso(h.at), state: h.state, reason: h.reason, host: h.hostname, attempt: h.attempt })),
    });
  }));

  change("POST", "/api/v1/jobs/:id/cancel", "job.cancel", (p) => p.id ?? null, async (_req, p, _url, c) => {
    const row = one(p.id);
    if (FINAL.has(row.state)) throw new HttpError(409, "conflict", `job ${row.id} already ended ${row.state}`);
    const applied = await c.commit({ type: "job.cancel", jobId: row.id, reason: `cancelled by ${c.caller.sub}` });
    const v0 = applied.result.ok ? applied.result.value! : {};
    if (v0.previous === "RUN" && typeof v0.hostId === "number") {
      ctx.sessions.sendTo(v0.hostId, { type: "kill_job", jobId: row.id, attempt: v0.attempt as number, reason: `cancelled by ${c.caller.sub}` });
    }
    return json({ id: row.id, state: "KILLED" });
  });
}
