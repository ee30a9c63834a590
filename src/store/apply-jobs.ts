/**
 * The job part of the state machine (design §5; docs/jobs.md). Every
 * transition checks the state it comes from, so a duplicate or late command
 * (a second "finished" for the same attempt, a requeue after the job ended)
 * is a deterministic refusal instead of a second effect.
 *
 * Attempts: each dispatch adds a row to job_attempts (where, when), which the
 * start, the end and a requeue complete; that is the accounting `lava ctl
 * acct` sums. Arrays: one job_arrays row and one jobs row per element (ids
 * right after the array's own), written by the one submit entry.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { ApplyResult, Command } from "./commands.ts";
import { getMeta, META, setMeta } from "./meta.ts";
import { statements, type Tx } from "./prepared.ts";
import { jobArrays, jobAttempts, jobs } from "./schema.ts";

type JobCommand = Extract<Command, { type: `job.${string}` }>;

function history(tx: Tx, idx: number, jobId: number, at: number, state: string, reason: string | null, hostname: string | null, attempt: number) {
  statements(tx).history.run({ jobId, logIdx: idx, at, state, reason, hostname, attempt });
}

const stale = (jobId: number, what: string): ApplyResult => ({ ok: false, error: "stale", detail: `job ${jobId}: ${what}` });
const json = (x: unknown) => (x === undefined ? null : JSON.stringify(x));

/** A job, or every element of the array `id` names. */
function targets(tx: Tx, id: number): { array: boolean; found: boolean } {
  if (statements(tx).arrayExists.get({ id })) return { array: true, found: true };
  return { array: false, found: statements(tx).jobExists.get({ id }) !== undefined };
}

function submit(tx: Tx, idx: number, cmd: Extract<JobCommand, { type: "job.submit" }>): ApplyResult {
  const id = Number(getMeta(tx, META.nextJobId) ?? 1);
  const arr = cmd.array;
  setMeta(tx, META.nextJobId, id + 1 + (arr ? arr.count : 0));
  const st = statements(tx);
  const row = {
    argv: JSON.stringify(cmd.argv),
    env: cmd.env ? JSON.stringify(cmd.env) : null,
    cwd: cmd.cwd ?? null,
    cpus: cmd.cpus,
    memBytes: cmd.memBytes,
    gpus: cmd.gpus,
    priority: cmd.priority,
    queue: cmd.queue,
    timeoutSec: cmd.timeoutSec ?? null,
    retries: cmd.retries,
    submittedAt: cmd.at,
    submittedBy: cmd.actor,
    name: cmd.name ?? null,
    stdoutPath: cmd.stdoutPath ?? null,
    stderrPath: cmd.stderrPath ?? null,
    deps: json(cmd.deps),
    beginAt: cmd.beginAt ?? 0,
    heldBy: cmd.hold ? cmd.actor : null,
    placement: json(cmd.placement),
  };
  if (!arr) {
    st.jobInsert.run({ id, ...row, arrayId: null, arrayIndex: null });
    history(tx, idx, id, cmd.at, "PEND", cmd.hold ? "submitted (held)" : "submitted", null, 0);
    return { ok: true, value: { jobId: id } };
  }
  tx.insert(jobArrays)
    .values({ id, spec: arr.spec, firstIndex: arr.first, step: arr.step, count: arr.count, maxRunning: arr.maxRunning ?? null, name: cmd.name ?? null, queue: cmd.queue, argv: row.argv, submittedAt: cmd.at, submittedBy: cmd.actor })
    .run();
  for (let k = 0; k < arr.count; k++) st.jobInsert.run({ id: id + 1 + k, ...row, arrayId: id, arrayIndex: arr.first + k * arr.step });
  // One history row for the array: its elements' own history starts at their dispatch.
  history(tx, idx, id, cmd.at, "PEND", `submitted: array ${arr.spec}, ${arr.count} elements${cmd.hold ? " (held)" : ""}`, null, 0);
  return { ok: true, value: { jobId: id, array: true, count: arr.count } };
}

function cancel(tx: Tx, idx: number, cmd: Extract<JobCommand, { type: "job.cancel" }>): ApplyResult {
  const t = targets(tx, cmd.jobId);
  if (!t.found) return { ok: false, error: "unknown_job", detail: `no job ${cmd.jobId}` };
  const where = t.array ? and(eq(jobs.arrayId, cmd.jobId), inArray(jobs.state, ["PEND", "RUN"])) : and(eq(jobs.id, cmd.jobId), inArray(jobs.state, ["PEND", "RUN"]));
  const before = tx.select({ id: jobs.id, state: jobs.state, hostId: jobs.hostId, attempts: jobs.attempts, hostname: jobs.hostname }).from(jobs).where(where).all();
  if (before.length === 0) {
    if (t.array) return { ok: false, error: "conflict", detail: `every element of array ${cmd.jobId} has ended already` };
    const ended = tx.select({ state: jobs.state }).from(jobs).where(eq(jobs.id, cmd.jobId)).get();
    return { ok: false, error: "conflict", detail: `job ${cmd.jobId} already ended ${ended?.state}` };
  }
  tx.update(jobs).set({ state: "KILLED", finishedAt: cmd.at, reason: cmd.reason }).where(where).run();
  const running: { jobId: number; hostId: number; attempt: number }[] = [];
  for (const b of before) {
    history(tx, idx, b.id, cmd.at, "KILLED", cmd.reason, b.hostname, b.attempts);
    if (b.state === "RUN" && b.hostId !== null) {
      running.push({ jobId: b.id, hostId: b.hostId, attempt: b.attempts });
      endAttempt(tx, b.id, b.attempts, { finishedAt: cmd.at, state: "KILLED", reason: cmd.reason });
    }
  }
  if (t.array) return { ok: true, value: { array: true, cancelled: before.map((b) => b.id), running } };
  const b = before[0]!;
  return { ok: true, value: { previous: b.state, hostId: b.hostId, attempt: b.attempts, running } };
}

function hold(tx: Tx, idx: number, cmd: Extract<JobCommand, { type: "job.hold" | "job.release" }>): ApplyResult {
  const t = targets(tx, cmd.jobId);
  if (!t.found) return { ok: false, error: "unknown_job", detail: `no job ${cmd.jobId}` };
  const holding = cmd.type === "job.hold";
  const scope = t.array ? eq(jobs.arrayId, cmd.jobId) : eq(jobs.id, cmd.jobId);
  const r = tx
    .update(jobs)
    .set({ heldBy: holding ? cmd.actor : null })
    .where(and(scope, eq(jobs.state, "PEND"), holding ? sql`${jobs.heldBy} IS NULL` : sql`${jobs.heldBy} IS NOT NULL`))
    .returning({ id: jobs.id })
    .all();
  if (r.length === 0) {
    const pending = tx.select({ id: jobs.id }).from(jobs).where(and(scope, eq(jobs.state, "PEND"))).limit(1).get();
    if (!pending) return { ok: false, error: "conflict", detail: `${t.array ? `array ${cmd.jobId} has no pending element` : `job ${cmd.jobId} is not pending`}: only pending jobs can be ${holding ? "held" : "released"}` };
    return { ok: true, value: { jobIds: [], already: true } };
  }
  // One history row for the job, or for the array (not one per element).
  history(tx, idx, cmd.jobId, cmd.at, "PEND", holding ? `held by ${cmd.actor}` : `released by ${cmd.actor}`, null, 0);
  return { ok: true, value: { jobIds: r.map((x) => x.id) } };
}

function endAttempt(tx: Tx, jobId: number, attempt: number, set: Partial<typeof jobAttempts.$inferInsert>): void {
  tx.update(jobAttempts)
    .set(set)
    .where(and(eq(jobAttempts.jobId, jobId), eq(jobAttempts.attempt, attempt)))
    .run();
}

export function applyJob(tx: Tx, idx: number, cmd: JobCommand): ApplyResult {
  switch (cmd.type) {
    case "job.submit":
      return submit(tx, idx, cmd);
    case "job.dispatch": {
      const st = statements(tx);
      const r = st.dispatch.all({ hostId: cmd.hostId, hostname: cmd.hostname, at: cmd.at, jobId: cmd.jobId });
      if (r.length === 0) return stale(cmd.jobId, "not pending");
      const attempt = r[0]!.attempts;
      st.attemptInsert.run({ jobId: cmd.jobId, attempt, hostname: cmd.hostname, at: cmd.at });
      history(tx, idx, cmd.jobId, cmd.at, "RUN", "dispatched", cmd.hostname, attempt);
      return { ok: true, value: { attempt } };
    }
    case "job.start": {
      // No history row: the start is a fact of the attempt (startedAt), not a change of state.
      const st = statements(tx);
      const started: number[] = [];
      for (const s of cmd.starts) {
        if (st.start.all({ jobId: s.jobId, attempt: s.attempt, at: s.at }).length === 0) continue;
        st.attemptStart.run({ jobId: s.jobId, attempt: s.attempt, at: s.at });
        started.push(s.jobId);
      }
      return { ok: true, value: { started } };
    }
    case "job.finish": {
      const st = statements(tx);
      // One set of values for the job's row and its attempt's (each statement takes the ones it names).
      const values = {
        jobId: cmd.jobId,
        attempt: cmd.attempt,
        at: cmd.at,
        startedAt: cmd.startedAt,
        state: cmd.state,
        exitCode: cmd.exitCode,
        signal: cmd.signal,
        reason: cmd.reason,
        stdout: cmd.stdout,
        stderr: cmd.stderr,
        stdoutTruncated: cmd.stdoutTruncated,
        stderrTruncated: cmd.stderrTruncated,
        elapsedMs: cmd.elapsedMs ?? null,
        cpuUserMs: cmd.cpuUserMs ?? null,
        cpuSysMs: cmd.cpuSysMs ?? null,
        maxRssBytes: cmd.maxRssBytes ?? null,
      };
      const r = st.finish.all(values);
      if (r.length === 0) return stale(cmd.jobId, `attempt ${cmd.attempt} is not running (already recorded, or superseded)`);
      st.attemptFinish.run(values);
      history(tx, idx, cmd.jobId, cmd.at, cmd.state, cmd.reason ?? (cmd.exitCode !== null ? `exit ${cmd.exitCode}` : null), r[0]!.hostname, cmd.attempt);
      return { ok: true, value: { state: cmd.state } };
    }
    case "job.cancel":
      return cancel(tx, idx, cmd);
    case "job.hold":
    case "job.release":
      return hold(tx, idx, cmd);
    case "job.requeue": {
      const job = tx.select({ state: jobs.state, attempts: jobs.attempts, retries: jobs.retries, hostname: jobs.hostname }).from(jobs).where(eq(jobs.id, cmd.jobId)).get();
      if (!job || job.state !== "RUN" || job.attempts !== cmd.attempt) return stale(cmd.jobId, `attempt ${cmd.attempt} is not running`);
      // attempts counts dispatches: retries remain while attempts ≤ retries.
      const retry = job.attempts <= job.retries;
      const state = retry ? "PEND" : "LOST";
      tx.update(jobs)
        .set(retry ? { state, hostId: null, hostname: null, notBefore: cmd.notBefore, reason: cmd.reason, startedAt: null } : { state, finishedAt: cmd.at, reason: cmd.reason })
        .where(eq(jobs.id, cmd.jobId))
        .run();
      endAttempt(tx, cmd.jobId, cmd.attempt, { finishedAt: cmd.at, state: "LOST", reason: cmd.reason });
      history(tx, idx, cmd.jobId, cmd.at, state, retry ? `${cmd.reason}; retry ${job.attempts} of ${job.retries}` : `${cmd.reason}; no retries left`, job.hostname, cmd.attempt);
      return { ok: true, value: { state } };
    }
  }
}
