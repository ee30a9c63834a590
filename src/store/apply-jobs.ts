/**
 * The job part of the state machine (design §5). Every transition checks
 * the state it comes from, so a duplicate or late command (a second
 * "finished" for the same attempt, a requeue after the job ended) is a
 * deterministic refusal instead of a second effect.
 */
import { and, eq, sql } from "drizzle-orm";
import type { ApplyResult, Command } from "./commands.ts";
import { getMeta, setMeta, type Tx } from "./apply.ts";
import { statements } from "./prepared.ts";
import { jobHistory, jobs } from "./schema.ts";

type JobCommand = Extract<Command, { type: `job.${string}` }>;

function history(tx: Tx, idx: number, jobId: number, at: number, state: string, reason: string | null, hostname: string | null, attempt: number) {
  statements(tx).history.run({ jobId, logIdx: idx, at, state, reason, hostname, attempt });
}

const stale = (jobId: number, what: string): ApplyResult => ({ ok: false, error: "stale", detail: `job ${jobId}: ${what}` });

export function applyJob(tx: Tx, idx: number, cmd: JobCommand): ApplyResult {
  switch (cmd.type) {
    case "job.submit": {
      const id = Number(getMeta(tx, "nextJobId") ?? 1);
      setMeta(tx, "nextJobId", id + 1);
      statements(tx).jobInsert.run({
        id,
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
      });
      history(tx, idx, id, cmd.at, "PEND", "submitted", null, 0);
      return { ok: true, value: { jobId: id } };
    }
    case "job.dispatch": {
      const r = statements(tx).dispatch.all({ hostId: cmd.hostId, hostname: cmd.hostname, at: cmd.at, jobId: cmd.jobId });
      if (r.length === 0) return stale(cmd.jobId, "not pending");
      history(tx, idx, cmd.jobId, cmd.at, "RUN", "dispatched", cmd.hostname, r[0]!.attempts);
      return { ok: true, value: { attempt: r[0]!.attempts } };
    }
    case "job.finish": {
      const r = statements(tx).finish.all({
        state: cmd.state,
        at: cmd.at,
        startedAt: cmd.startedAt,
        exitCode: cmd.exitCode,
        signal: cmd.signal,
        reason: cmd.reason,
        stdout: cmd.stdout,
        stderr: cmd.stderr,
        stdoutTruncated: cmd.stdoutTruncated,
        stderrTruncated: cmd.stderrTruncated,
        jobId: cmd.jobId,
        attempt: cmd.attempt,
      });
      if (r.length === 0) return stale(cmd.jobId, `attempt ${cmd.attempt} is not running (already recorded, or superseded)`);
      history(tx, idx, cmd.jobId, cmd.at, cmd.state, cmd.reason ?? (cmd.exitCode !== null ? `exit ${cmd.exitCode}` : null), r[0]!.hostname, cmd.attempt);
      return { ok: true, value: { state: cmd.state } };
    }
    case "job.cancel": {
      const before = tx.select({ state: jobs.state, hostId: jobs.hostId, attempts: jobs.attempts, hostname: jobs.hostname }).from(jobs).where(eq(jobs.id, cmd.jobId)).get();
      if (!before) return { ok: false, error: "unknown_job", detail: `no job ${cmd.jobId}` };
      if (before.state !== "PEND" && before.state !== "RUN") return { ok: false, error: "conflict", detail: `job ${cmd.jobId} already ended ${before.state}` };
      tx.update(jobs).set({ state: "KILLED", finishedAt: cmd.at, reason: cmd.reason }).where(eq(jobs.id, cmd.jobId)).run();
      history(tx, idx, cmd.jobId, cmd.at, "KILLED", cmd.reason, before.hostname, before.attempts);
      return { ok: true, value: { previous: before.state, hostId: before.hostId, attempt: before.attempts } };
    }
    case "job.requeue": {
      const job = tx.select({ state: jobs.state, attempts: jobs.attempts, retries: jobs.retries, hostname: jobs.hostname }).from(jobs).where(eq(jobs.id, cmd.jobId)).get();
      if (!job || job.state !== "RUN" || job.attempts !== cmd.attempt) return stale(cmd.jobId, `attempt ${cmd.attempt} is not running`);
      // attempts counts dispatches: retries remain while attempts ≤ retries.
      const retry = job.attempts <= job.retries;
      const state = retry ? "PEND" : "LOST";
      tx.update(jobs)
        .set(retry ? { state, hostId: null, hostname: null, notBefore: cmd.notBefore, reason: cmd.reason } : { state, finishedAt: cmd.at, reason: cmd.reason })
        .where(eq(jobs.id, cmd.jobId))
        .run();
      history(tx, idx, cmd.jobId, cmd.at, state, retry ? `${cmd.reason}; retry ${job.attempts} of ${job.retries}` : `${cmd.reason}; no retries left`, job.hostname, cmd.attempt);
      return { ok: true, value: { state } };
    }
  }
}
