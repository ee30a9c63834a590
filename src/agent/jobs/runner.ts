/**
 * The agent's job runner (design §5): runs what `run_job` asks, kills what
 * `kill_job` asks, and reports each attempt as `job_event`s kept in an
 * outbox until the master acks them. The agent owns one runner for its
 * whole life: it survives reconnects and master restarts, so a job keeps
 * running while the control channel is down and its events wait.
 *
 * Processes: argv is spawned directly with Bun.spawn (never a shell), stdin
 * /dev/null, in a new session and so its own process group (`detached`:
 * setsid), with the clean environment of env.ts. Every signal goes to the
 * whole group (`kill(-pid)`), so a kill reaches the job's children too.
 * When the job's main process exits, whatever it left running in its group
 * is SIGKILLed: a job is its whole group (as with Slurm's job steps), and a
 * leftover would run unaccounted and hold the output pipes open. A process
 * that leaves the group (its own setsid, a daemon) escapes; its pipes are
 * given up `drainMs` after the main process ended.
 *
 * Killing (timeout, kill_job, a newer attempt, agent stop): SIGTERM to the
 * group, SIGKILL after the job's killGraceMs (default 10 s); the attempt
 * ends KILLED with the reason.
 *
 * Attempts: a (jobId, attempt) runs at most once per agent process: a
 * repeated run_job for one that is pending, running, or finished (acked or
 * not, within the last `rememberedJobsMax` jobs) is ignored, and so is one
 * for an attempt older than the newest seen for that job. A new attempt of
 * a job whose older attempt still runs first kills the older one ("superseded
 * by attempt N") and is *pending* until it has ended, then starts.
 *
 * Stopping (stop(), called by the agent on SIGTERM/SIGINT): the jobs are
 * killed (SIGTERM, then SIGKILL after min(killGraceMs, stopGraceMsMax)) and
 * end KILLED "agent stopping"; the agent sends those events if its channel
 * is still up. Leaving them running was the alternative; but an agent that
 * goes away can no longer collect their exit status or output, so the
 * master would requeue them after its grace and they would run twice. (An
 * agent killed with SIGKILL cannot do this: its jobs, in their own sessions,
 * are orphaned and run on; the master requeues them once the host's grace
 * has passed. Nothing to do here about that.)
 */
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { JOB_LIMITS, type Ack, type AgentStatus, type JobEvent, type KillJob, type RunJob } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import type { JobCounts } from "../procfs/index.ts";
import { errorText, guard } from "../control.ts";
import { capture, type Capture, type Captured } from "./capture.ts";
import { classifyEnd, spawnFailure, timeoutReason, type JobEnd } from "./end.ts";
import { jobEnv, type EnvSource } from "./env.ts";
import { EVENT_BYTES_MAX, fitEventToMessage, reasonText } from "./event.ts";
import { currentUser, signalGroup as signalGroupOf, signalName, within } from "./group.ts";
import { Outbox, type OutboxBounds } from "./outbox.ts";

const log = logger("agent");

export const KILL_GRACE_MS_DEFAULT = 10_000;
/** Longest grace between SIGTERM and SIGKILL when the agent itself stops. */
export const STOP_GRACE_MS_MAX = 5_000;
/** After the main process exited, how long its output pipes may stay open. */
export const DRAIN_MS = 2_000;
/** How many jobs' newest attempts are remembered to refuse duplicates and stale attempts. */
export const REMEMBERED_JOBS_MAX = 10_000;
/** setTimeout takes at most 2^31-1 ms (~24.8 days); longer timeouts are re-armed in steps. */
const TIMER_MS_MAX = 2 ** 31 - 1;

export interface JobRunnerOptions {
  /** Called for each new event, after it was put in the outbox. */
  onEvent?: (ev: JobEvent) => void;
  /** Prefix of every eventId; random per agent process by default. */
  bootId?: string;
  /** Milliseconds since the epoch, for `at` and `startedAt`. */
  wallClock?: () => number;
  /** Monotonic milliseconds, for kill deadlines and timeouts. */
  now?: () => number;
  /** Where PATH, HOME, LANG and USER come from (default process.env). */
  env?: EnvSource;
  killGraceMsDefault?: number;
  stopGraceMsMax?: number;
  drainMs?: number;
  rememberedJobsMax?: number;
  eventBytesMax?: number;
  outbox?: Partial<OutboxBounds>;
}

export interface JobRunnerStats {
  running: number;
  pending: number;
  /** Attempts ended (any state) since the start. */
  finished: number;
  /** Events not yet acknowledged by the master. */
  outbox: number;
  /** `started` events dropped from a full outbox since the start. */
  eventsDropped: number;
  /** run_job messages ignored as duplicates or stale attempts. */
  duplicatesIgnored: number;
}

export interface JobRunner {
  run(msg: RunJob): void;
  kill(msg: KillJob): void;
  /** Forgets acknowledged events; returns how many were in the outbox. */
  ack(msg: Ack): number;
  /** Unacknowledged events, oldest first: what to send after a (re)registration. */
  outbox(): JobEvent[];
  /** The `status` message: jobs running or accepted and about to run. */
  statusMessage(): AgentStatus;
  /** For the load report's jobsRunning / jobsPending. */
  counts(): JobCounts;
  stats(): JobRunnerStats;
  /** Kills every job and resolves when they have ended (bounded); later run_job are refused. Idempotent. */
  stop(reason?: string): Promise<void>;
}

type Phase = "pending" | "running" | "ended";

interface Job {
  readonly msg: RunJob;
  readonly name: string;
  phase: Phase;
  /** The main process has exited (its output may still be draining): too late to kill. */
  exited: boolean;
  pid: number | null;
  startedAt: number | null;
  killReason: string | null;
  /** now() at which SIGKILL follows, while a kill is under way. */
  killDeadline: number | null;
  timeout: { clear(): void } | null;
  grace: ReturnType<typeof setTimeout> | null;
  readonly ended: Promise<void>;
  markEnded: () => void;
}

function randomBootId(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Why `cwd` cannot be a job's working directory, or null if it can. */
function cwdProblem(cwd: string): string | null {
  const shown = JSON.stringify(reasonText(cwd, 300));
  try {
    if (!statSync(cwd).isDirectory()) return `working directory ${shown} is not a directory`;
    accessSync(cwd, fsConstants.X_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return `working directory ${shown} does not exist on this host`;
    if (code === "EACCES" || code === "EPERM") return `working directory ${shown} is not accessible to the agent's user`;
    return `working directory ${shown} cannot be used: ${errorText(e)}`;
  }
}

function longTimeout(fn: () => void, ms: number, now: () => number): { clear(): void } {
  const deadline = now() + ms;
  let t: ReturnType<typeof setTimeout> | null = null;
  const arm = guard(() => {
    const left = deadline - now();
    if (left <= 0) {
      t = null;
      fn();
      return;
    }
    t = setTimeout(arm, Math.min(left, TIMER_MS_MAX));
  });
  t = setTimeout(arm, Math.min(ms, TIMER_MS_MAX));
  return {
    clear() {
      if (t) clearTimeout(t);
      t = null;
    },
  };
}

export function createJobRunner(opts: JobRunnerOptions = {}): JobRunner {
  const bootId = opts.bootId ?? randomBootId();
  const wallClock = opts.wallClock ?? Date.now;
  const now = opts.now ?? (() => performance.now());
  const agentEnv = opts.env ?? process.env;
  const killGraceMsDefault = opts.killGraceMsDefault ?? KILL_GRACE_MS_DEFAULT;
  const stopGraceMsMax = opts.stopGraceMsMax ?? STOP_GRACE_MS_MAX;
  const drainMs = opts.drainMs ?? DRAIN_MS;
  const rememberedJobsMax = opts.rememberedJobsMax ?? REMEMBERED_JOBS_MAX;
  const eventBytesMax = opts.eventBytesMax ?? EVENT_BYTES_MAX;
  const outbox = new Outbox(opts.outbox);
  const user = currentUser();

  /** Pending and running attempts, by "jobId/attempt". */
  const live = new Map<string, Job>();
  /** Newest attempt seen per job, oldest entry first (evicted past rememberedJobsMax). */
  const latest = new Map<number, number>();
  let eventSeq = 0;
  let finished = 0;
  let duplicatesIgnored = 0;
  let stopping: Promise<void> | null = null;

  const keyOf = (jobId: number, attempt: number) => `${jobId}/${attempt}`;
  const graceOf = (job: Job) => job.msg.killGraceMs ?? killGraceMsDefault;

  function remember(jobId: number, attempt: number): void {
    latest.delete(jobId);
    latest.set(jobId, attempt);
    while (latest.size > rememberedJobsMax) {
      const oldest = latest.keys().next().value;
      if (oldest === undefined) break;
      latest.delete(oldest);
    }
  }

  function emit(ev: JobEvent): void {
    const r = outbox.push(ev);
    if (r.droppedStarted > 0) log.warn(`job event outbox full: dropped the ${r.droppedStarted} oldest unacknowledged "started" event(s); "finished" events are kept`);
    if (r.shrunk > 0) log.warn(`job event outbox over its output bound: cut the output of ${r.shrunk} unacknowledged "finished" event(s)`);
    if (r.overBound && r.droppedStarted === 0) log.warn(`job event outbox holds ${outbox.size} unacknowledged "finished" events (over its bound); keeping them until the master acks`);
    try {
      opts.onEvent?.(ev);
    } catch (e) {
      log.error(`internal error sending a job event (it stays in the outbox): ${errorText(e)}`);
    }
  }

  function nextEventId(): string {
    return `${bootId}-${++eventSeq}`;
  }

  function signalGroup(job: Job, sig: NodeJS.Signals): void {
    if (job.pid !== null) signalGroupOf(job.pid, sig, job.name);
  }

  function finish(job: Job, end: JobEnd, out: Captured | null, err: Captured | null): void {
    if (job.phase === "ended") return;
    job.phase = "ended";
    job.timeout?.clear();
    job.timeout = null;
    if (job.grace) clearTimeout(job.grace);
    job.grace = null;
    live.delete(keyOf(job.msg.jobId, job.msg.attempt));
    finished++;
    const ev: JobEvent = {
      type: "job_event",
      eventId: nextEventId(),
      jobId: job.msg.jobId,
      attempt: job.msg.attempt,
      event: "finished",
      at: wallClock(),
      state: end.state,
      exitCode: end.exitCode,
      signal: end.signal,
      stdout: out?.text ?? "",
      stderr: err?.text ?? "",
      stdoutTruncated: out?.truncated ?? false,
      stderrTruncated: err?.truncated ?? false,
    };
    if (end.reason !== undefined) ev.reason = end.reason;
    if (job.pid !== null) ev.pid = job.pid;
    if (job.startedAt !== null) ev.startedAt = job.startedAt;
    emit(fitEventToMessage(ev, eventBytesMax));
    const how = end.reason ? `${end.state} (${end.reason})` : end.state;
    // Per-job lines are debug: at hundreds of jobs a second they would be most of the agent's work; the master keeps every transition in job history.
    if (end.state === "DONE") log.debug(`${job.name} ended ${how}`);
    else log.warn(`${job.name} ended ${how}`);
    job.markEnded();
  }

  function start(job: Job): void {
    if (job.phase !== "pending") return;
    const msg = job.msg;
    if (stopping) {
      finish(job, { state: "KILLED", exitCode: null, signal: null, reason: "agent stopping" }, null, null);
      return;
    }
    if (msg.cwd !== undefined) {
      const problem = cwdProblem(msg.cwd);
      if (problem) {
        finish(job, { state: "EXIT", exitCode: null, signal: null, reason: problem }, null, null);
        return;
      }
    }
    let proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
    try {
      proc = Bun.spawn(msg.argv, {
        cwd: msg.cwd,
        env: jobEnv(agentEnv, msg, user),
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        detached: true,
      });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      finish(job, spawnFailure(msg.argv[0] ?? "", { code: err.code, message: errorText(e) }), null, null);
      return;
    }
    job.phase = "running";
    job.pid = proc.pid;
    job.startedAt = wallClock();
    const limit = msg.outputLimitBytes ?? JOB_LIMITS.outputBytesDefault;
    const out = capture(proc.stdout, limit);
    const err = capture(proc.stderr, limit);
    log.debug(`${job.name} started: pid ${proc.pid}, ${JSON.stringify(reasonText(msg.argv[0] ?? "", 200))}`);
    emit({ type: "job_event", eventId: nextEventId(), jobId: msg.jobId, attempt: msg.attempt, event: "started", at: job.startedAt, pid: proc.pid });
    const timeoutMs = msg.timeoutMs ?? 0;
    if (timeoutMs > 0) job.timeout = longTimeout(() => killJob(job, timeoutReason(timeoutMs), graceOf(job)), timeoutMs, now);
    void proc.exited.then(
      () => onExit(job, proc, out, err),
      () => onExit(job, proc, out, err),
    );
  }

  async function onExit(job: Job, proc: Bun.Subprocess<"ignore", "pipe", "pipe">, out: Capture, err: Capture): Promise<void> {
    try {
      job.exited = true;
      job.timeout?.clear();
      job.timeout = null;
      if (job.grace) clearTimeout(job.grace);
      job.grace = null;
      // Whatever the main process left in its group goes with it (see the top of this file).
      signalGroup(job, "SIGKILL");
      if (!(await within(Promise.all([out.done, err.done]), drainMs))) {
        out.cancel();
        err.cancel();
        log.warn(`${job.name}: output pipes still open ${drainMs} ms after the job ended (a process left its group); output cut there`);
      }
      const signal = signalName(proc.signalCode);
      finish(job, classifyEnd({ exitCode: signal === null ? proc.exitCode : null, signal, killReason: job.killReason }), out.result(), err.result());
    } catch (e) {
      log.error(`internal error ending ${job.name}: ${errorText(e)}`);
      finish(job, { state: "EXIT", exitCode: null, signal: null, reason: `agent error collecting the result: ${errorText(e)}` }, null, null);
    }
  }

  function killJob(job: Job, reason: string, graceMs: number): void {
    if (job.phase === "pending") {
      finish(job, { state: "KILLED", exitCode: null, signal: null, reason }, null, null);
      return;
    }
    if (job.phase !== "running" || job.exited) return;
    job.timeout?.clear();
    job.timeout = null;
    const first = job.killReason === null;
    const deadline = now() + graceMs;
    if (!first && job.killDeadline !== null && deadline >= job.killDeadline) return;
    if (first) {
      job.killReason = reason;
      log.info(`${job.name}: killing (${reason}): SIGTERM to its process group, SIGKILL in ${graceMs / 1000} s`);
      signalGroup(job, "SIGTERM");
    }
    job.killDeadline = deadline;
    if (job.grace) clearTimeout(job.grace);
    job.grace = setTimeout(
      guard(() => {
        job.grace = null;
        if (job.phase !== "running") return;
        log.info(`${job.name}: still running ${graceMs / 1000} s after SIGTERM; SIGKILL to its process group`);
        signalGroup(job, "SIGKILL");
      }),
      graceMs,
    );
  }

  return {
    run(msg) {
      const name = `job ${msg.jobId} (attempt ${msg.attempt})`;
      if (stopping) {
        log.warn(`${name}: not started, the agent is stopping`);
        return;
      }
      const key = keyOf(msg.jobId, msg.attempt);
      const newest = latest.get(msg.jobId);
      if (live.has(key) || (newest !== undefined && msg.attempt <= newest)) {
        duplicatesIgnored++;
        log.debug(`${name}: run_job ignored, ${live.has(key) ? "already running" : newest === msg.attempt ? "already ran here" : `attempt ${newest} is newer`}`);
        return;
      }
      remember(msg.jobId, msg.attempt);
      let markEnded!: () => void;
      const ended = new Promise<void>((r) => (markEnded = r));
      const job: Job = { msg, name, phase: "pending", exited: false, pid: null, startedAt: null, killReason: null, killDeadline: null, timeout: null, grace: null, ended, markEnded };
      const older = [...live.values()].filter((j) => j.msg.jobId === msg.jobId);
      live.set(key, job);
      if (older.length === 0) {
        start(job);
        return;
      }
      log.info(`${name}: waits for attempt ${older.map((o) => o.msg.attempt).join(", ")} of the job to end`);
      for (const o of older) killJob(o, `superseded by attempt ${msg.attempt}`, graceOf(o));
      void Promise.all(older.map((o) => o.ended)).then(guard(() => start(job)));
    },

    kill(msg) {
      const targets = [...live.values()].filter((j) => j.msg.jobId === msg.jobId && (msg.attempt === undefined || j.msg.attempt === msg.attempt));
      if (targets.length === 0) {
        log.debug(`kill_job for job ${msg.jobId}${msg.attempt === undefined ? "" : ` (attempt ${msg.attempt})`} ignored: not running here`);
        return;
      }
      for (const j of targets) killJob(j, msg.reason ?? "killed by the master", graceOf(j));
    },

    ack(msg) {
      return outbox.ack(msg.eventIds);
    },

    outbox() {
      return outbox.all();
    },

    statusMessage() {
      return { type: "status", jobs: [...live.values()].map((j) => ({ jobId: j.msg.jobId, attempt: j.msg.attempt })) };
    },

    counts() {
      let running = 0;
      let pending = 0;
      for (const j of live.values()) {
        if (j.phase === "running") running++;
        else if (j.phase === "pending") pending++;
      }
      return { running, pending };
    },

    stats() {
      const c = this.counts();
      return { ...c, finished, outbox: outbox.size, eventsDropped: outbox.droppedTotal, duplicatesIgnored };
    },

    stop(reason = "agent stopping") {
      if (stopping) return stopping;
      const jobs = [...live.values()];
      stopping = (async () => {
        if (jobs.length > 0) log.info(`killing ${jobs.length} job(s): ${reason}`);
        for (const j of jobs) killJob(j, reason, Math.min(graceOf(j), stopGraceMsMax));
        const boundMs = stopGraceMsMax + drainMs + 1_000;
        if (!(await within(Promise.all(jobs.map((j) => j.ended)), boundMs))) {
          log.warn(`${live.size} job(s) had not ended ${boundMs / 1000} s after the agent began stopping`);
        }
      })();
      return stopping;
    },
  };
}
