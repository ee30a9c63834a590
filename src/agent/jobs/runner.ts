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
 * master would requeue them after its grace and they would run twice.
 *
 * At most one attempt of a job runs at a time, also across hosts (docs/
 * jobs.md "Orphans and double runs"): each started process group is
 * recorded in `recordsDir` (records.ts) until it has ended; an agent killed
 * outright leaves its keeper (keeper.ts) to end them; a restarted agent
 * ends what it finds recorded before it takes work (`reclaim`); an agent
 * cut off from every master for half of jobs.lostAfter ends its jobs itself
 * (`fence`). Attempts ended those ways are reported `lost`, so the master
 * requeues them like those of a dead host.
 *
 * Who a job runs as (users.ts), which argv it may run (`allowed`), which
 * GPUs it gets (gpus.ts), and what it used (usage.ts) are decided here,
 * at the start and the end of each attempt.
 */
import { accessSync, closeSync, constants as fsConstants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { resolve as resolvePath } from "node:path";
import { JOB_LIMITS, PEEK_BYTES_MAX, type Ack, type AgentStatus, type JobEvent, type JobOutput, type KillJob, type PeekJob, type RunJob, type SignalJob } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import type { JobCounts } from "../procfs/index.ts";
import { errorText, guard } from "../control.ts";
import { capture, type Capture, type Captured } from "./capture.ts";
import { classifyEnd, spawnFailure, timeoutReason, type JobEnd } from "./end.ts";
import { jobEnv, type EnvSource } from "./env.ts";
import { EVENT_BYTES_MAX, fitEventToMessage, reasonText } from "./event.ts";
import { signalGroup as signalGroupOf, signalName, within } from "./group.ts";
import { GpuPool } from "./gpus.ts";
import { Outbox, type OutboxBounds } from "./outbox.ts";
import { clearRecords, groupAlive, readRecords, readStartTime, RecordSlots, START_UNREAD, type JobRecord } from "./records.ts";
import { attemptUsage, processHwm, sampleGroups, selfHwmBytes } from "./usage.ts";
import { chooseJobUser, lookupUser, type JobUserPolicy, type UnixUser } from "./users.ts";

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
/** How often running jobs' process groups are sampled for their resident set. */
export const SAMPLE_MS = 1_000;
/** The first look at a new job (its resident set, so short jobs get a figure too; its start time for its record). */
export const FIRST_LOOK_MS = 100;
/** Longest a restarted agent waits for a leftover job to go after SIGTERM before SIGKILL. */
const RECLAIM_GRACE_MS_MAX = 10_000;

/**
 * Runs the job's argv with stdout and/or stderr sent to files, opened by
 * the job's own user in its working directory (so a path the user may not
 * write stays unwritten), truncated like Slurm's default; "" leaves a
 * stream as the pipe the agent captures.
 */
const OUTPUT_WRAPPER = 'o=$1 e=$2; shift 2; if [ -n "$o" ]; then exec >"$o"; fi; if [ -n "$e" ]; then if [ "$e" = "$o" ]; then exec 2>&1; else exec 2>"$e"; fi; fi; exec "$@"';

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
  /** Where job records are kept for the keeper and a restarted agent; null or absent: none (tests). */
  recordsDir?: string | null;
  /** Who jobs run as (agent.jobs.user, users, allowRoot); absent: the agent's own user. */
  users?: JobUserPolicy;
  /** agent.jobs.allow, as a check: why `argv` may not run here, or null if it may. Absent: anything may. */
  allowed?: (argv: readonly string[]) => string | null;
  /** The GPUs jobs are given (default: none). */
  gpus?: GpuPool;
  /** The agent's uid (default process.getuid()); 0 can run jobs as other users. */
  uid?: number;
  /** Unix users by name (default /etc/passwd, then getent). */
  lookupUser?: (name: string) => UnixUser | null;
  /** Where job processes are looked at for accounting (default /proc). */
  procRoot?: string;
  sampleMs?: number;
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
  /** The longest kill grace among the jobs here now (0 if none): self-fencing must finish within jobs.lostAfter. */
  graceMs(): number;
  stats(): JobRunnerStats;
  /** Kills every job and resolves when they have ended (bounded); later run_job are refused. Idempotent. */
  stop(reason?: string): Promise<void>;
  /** Sends a signal to a running job's process group (`signal_job`); the job goes on unless the signal ends it. */
  signal(msg: SignalJob): void;
  /** What a running job wrote so far (`peek_job`). */
  peek(msg: PeekJob): JobOutput;
  /**
   * No master for too long: kills every job (their ends are reported lost,
   * so the master requeues them). Resolves when they have ended (bounded).
   */
  fence(reason: string): Promise<void>;
  /**
   * At start, before taking work: ends what a previous agent on this state
   * dir left running (records in recordsDir) and reports those attempts
   * lost. Resolves with how many it found.
   */
  reclaim(): Promise<number>;
}

type Phase = "pending" | "running" | "ended";

interface Job {
  readonly msg: RunJob;
  readonly name: string;
  phase: Phase;
  /** Ended by the host (fenced), not by the job or a request: reported lost. */
  lost: boolean;
  /** Its record's slot (records.ts), while it runs. */
  slot: number | null;
  user: UnixUser | null;
  cwd: string | null;
  gpuIds: number[];
  /** now() at the spawn. */
  spawnedAt: number | null;
  /** Largest resident set seen in samples of its group. */
  sampledRss: number;
  out: Capture | null;
  err: Capture | null;
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
  const agentUid = opts.uid ?? process.getuid?.() ?? 0;
  const self = agentUser(agentEnv);
  const lookup = opts.lookupUser ?? ((name: string) => lookupUser(name));
  const gpus = opts.gpus ?? new GpuPool(0, null);
  const recordsDir = opts.recordsDir ?? null;
  // Created once reclaim() has read what a previous agent left.
  let slots: RecordSlots | null = null;
  const procRoot = opts.procRoot ?? "/proc";
  const sampleMs = opts.sampleMs ?? SAMPLE_MS;
  let sampler: ReturnType<typeof setInterval> | null = null;
  /** The agent's own high-water mark, read at most once a second (it only grows). */
  let hwm = { bytes: 0, atMs: -Infinity };
  const agentHwm = () => {
    const t = now();
    if (t - hwm.atMs >= 1000) hwm = { bytes: selfHwmBytes(procRoot), atMs: t };
    return hwm.bytes;
  };

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

  /** The job's record gets its leader's start time (records.ts: read at the first look, not at the spawn). */
  function recordStartTime(job: Job, pid: number): void {
    if (slots === null || job.slot === null || job.startedAt === null) return;
    const startTime = readStartTime(pid, procRoot) ?? 0;
    try {
      slots.rewrite(job.slot, { jobId: job.msg.jobId, attempt: job.msg.attempt, pgid: pid, startTime, graceMs: graceOf(job), startedAt: job.startedAt });
    } catch (e) {
      log.warn(`${job.name}: cannot update its record (${errorText(e)}); the keeper would end its group unchecked`);
    }
  }

  /**
   * Jobs started in the last FIRST_LOOK_MS, oldest first, for their first
   * look: one timer for all of them rather than one per job (a timer made
   * and cleared per job cost more than the look itself at hundreds of
   * short jobs a second).
   */
  const firstLooks: { job: Job; dueMs: number }[] = [];
  let firstLook: ReturnType<typeof setTimeout> | null = null;
  // Real time, like the timer (not the injected clock).
  const realMs = () => performance.now();
  function lookAtNewJobs(): void {
    firstLook = null;
    const t = realMs();
    let k = 0;
    for (; k < firstLooks.length && firstLooks[k]!.dueMs <= t; k++) {
      const { job } = firstLooks[k]!;
      if (job.phase !== "running" || job.exited || job.pid === null) continue;
      // The leader alone (one file): a pass over /proc per job would cost more than short jobs do.
      job.sampledRss = Math.max(job.sampledRss, processHwm(job.pid, procRoot));
      recordStartTime(job, job.pid);
    }
    firstLooks.splice(0, k);
    const next = firstLooks[0];
    if (next) firstLook = setTimeout(guard(lookAtNewJobs), Math.max(1, next.dueMs - t));
  }

  /** One pass over /proc for every running job's group: keeps each job's largest resident set. */
  function sample(): void {
    const byGroup = new Map<number, Job>();
    for (const j of live.values()) if (j.phase === "running" && j.pid !== null && !j.exited) byGroup.set(j.pid, j);
    if (byGroup.size === 0) {
      if (sampler) clearInterval(sampler);
      sampler = null;
      return;
    }
    for (const [pg, rss] of sampleGroups(new Set(byGroup.keys()), procRoot)) {
      const j = byGroup.get(pg)!;
      j.sampledRss = Math.max(j.sampledRss, rss);
    }
  }

  function finish(job: Job, end: JobEnd, out: Captured | null, err: Captured | null, proc?: Bun.Subprocess<"ignore", "pipe", "pipe">): void {
    if (job.phase === "ended") return;
    job.phase = "ended";
    job.timeout?.clear();
    job.timeout = null;
    if (job.grace) clearTimeout(job.grace);
    job.grace = null;
    gpus.give(job.gpuIds);
    job.gpuIds = [];
    live.delete(keyOf(job.msg.jobId, job.msg.attempt));
    if (slots !== null && job.slot !== null) {
      try {
        slots.clear(job.slot);
      } catch (e) {
        log.warn(`${job.name}: cannot clear its record: ${errorText(e)}`);
      }
      job.slot = null;
    }
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
    if (job.lost) ev.lost = true;
    if (job.spawnedAt !== null) {
      const ru = proc?.resourceUsage();
      const usage = attemptUsage({
        elapsedMs: now() - job.spawnedAt,
        rusage: ru ? { userUs: Number(ru.cpuTime.user), sysUs: Number(ru.cpuTime.system), maxRssBytes: ru.maxRSS } : null,
        sampledMaxRss: job.sampledRss,
        agentHwmBytes: agentHwm(),
      });
      ev.elapsedMs = usage.elapsedMs;
      ev.cpuUserMs = usage.cpuUserMs;
      ev.cpuSysMs = usage.cpuSysMs;
      ev.maxRssBytes = usage.maxRssBytes;
    }
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
    const refused = opts.allowed?.(msg.argv) ?? null;
    if (refused !== null) {
      finish(job, { state: "EXIT", exitCode: null, signal: null, reason: reasonText(refused) }, null, null);
      return;
    }
    const who = opts.users ? chooseJobUser(msg.subject, opts.users, agentUid, self, lookup) : ({ ok: true, user: self, switchTo: false } as const);
    if (!who.ok) {
      finish(job, { state: "EXIT", exitCode: null, signal: null, reason: reasonText(who.reason) }, null, null);
      return;
    }
    job.user = who.user;
    if (msg.cwd !== undefined) {
      const problem = cwdProblem(msg.cwd);
      if (problem) {
        finish(job, { state: "EXIT", exitCode: null, signal: null, reason: problem }, null, null);
        return;
      }
    }
    // The default working directory is the user's home (nobody's is /nonexistent: then /).
    const cwd = msg.cwd ?? (isDir(who.user.home) ? who.user.home : "/");
    job.cwd = cwd;
    const ids = gpus.take(msg.gpus ?? 0);
    if (ids === null) {
      // The master's view of this host was out of date: not the job's fault, so it goes back to the queue.
      job.lost = true;
      finish(job, { state: "KILLED", exitCode: null, signal: null, reason: `this host has ${gpus.free} free GPU(s), the job needs ${msg.gpus}` }, null, null);
      return;
    }
    job.gpuIds = ids;
    const argv = msg.stdoutPath !== undefined || msg.stderrPath !== undefined ? ["/bin/sh", "-c", OUTPUT_WRAPPER, "lava-job", msg.stdoutPath ?? "", msg.stderrPath ?? "", ...msg.argv] : msg.argv;
    const switchUser = who.switchTo && who.user.uid !== agentUid;
    let proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
    try {
      proc = Bun.spawn(argv, {
        cwd,
        env: jobEnv(agentEnv, msg, who.user, gpus.env(ids)),
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        detached: true,
        ...(switchUser ? { uid: who.user.uid, gid: who.user.gid } : {}),
      });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      gpus.give(ids);
      job.gpuIds = [];
      finish(job, spawnFailure(msg.argv[0] ?? "", { code: err.code, message: errorText(e) }), null, null);
      return;
    }
    job.phase = "running";
    job.pid = proc.pid;
    job.startedAt = wallClock();
    job.spawnedAt = now();
    if (recordsDir !== null) {
      // The start time is read at the first look (records.ts: START_UNREAD).
      const rec: JobRecord = { jobId: msg.jobId, attempt: msg.attempt, pgid: proc.pid, startTime: START_UNREAD, graceMs: graceOf(job), startedAt: job.startedAt };
      try {
        slots ??= new RecordSlots(recordsDir);
        job.slot = slots.put(rec);
      } catch (e) {
        log.warn(`${job.name}: cannot record it in ${recordsDir} (${errorText(e)}): if the agent is killed outright, nothing ends it`);
      }
    }
    const limit = msg.outputLimitBytes ?? JOB_LIMITS.outputBytesDefault;
    const out = capture(proc.stdout, limit);
    const err = capture(proc.stderr, limit);
    job.out = out;
    job.err = err;
    firstLooks.push({ job, dueMs: realMs() + FIRST_LOOK_MS });
    firstLook ??= setTimeout(guard(lookAtNewJobs), FIRST_LOOK_MS);
    sampler ??= setInterval(guard(sample), sampleMs);
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
      finish(job, classifyEnd({ exitCode: signal === null ? proc.exitCode : null, signal, killReason: job.killReason }), out.result(), err.result(), proc);
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
      const job: Job = {
        msg,
        name,
        phase: "pending",
        lost: false,
        slot: null,
        user: null,
        cwd: null,
        gpuIds: [],
        spawnedAt: null,
        sampledRss: 0,
        out: null,
        err: null,
        exited: false,
        pid: null,
        startedAt: null,
        killReason: null,
        killDeadline: null,
        timeout: null,
        grace: null,
        ended,
        markEnded,
      };
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

    graceMs() {
      let max = 0;
      // What fence() gives them (killAll caps it).
      for (const j of live.values()) max = Math.max(max, Math.min(graceOf(j), stopGraceMsMax));
      return max;
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
        await killAll(jobs, reason);
        if (sampler) clearInterval(sampler);
        sampler = null;
        if (firstLook) clearTimeout(firstLook);
        firstLook = null;
        firstLooks.length = 0;
        slots?.close();
        slots = null;
      })();
      return stopping;
    },

    signal(msg) {
      const targets = [...live.values()].filter((j) => j.msg.jobId === msg.jobId && (msg.attempt === undefined || j.msg.attempt === msg.attempt) && j.phase === "running" && !j.exited);
      if (targets.length === 0) {
        log.debug(`signal_job for job ${msg.jobId} ignored: not running here`);
        return;
      }
      for (const j of targets) {
        log.info(`${j.name}: ${msg.signal} to its process group (asked by the master)`);
        signalGroup(j, msg.signal);
      }
    },

    peek(msg) {
      return peekJob(msg);
    },

    async fence(reason) {
      const jobs = [...live.values()];
      if (jobs.length === 0) return;
      log.warn(`killing ${jobs.length} job(s): ${reason}`);
      for (const j of jobs) j.lost = true;
      await killAll(jobs, reason);
    },

    async reclaim() {
      if (recordsDir === null) return 0;
      const left = readRecords(recordsDir);
      if (left.length === 0) {
        clearRecords(recordsDir);
        return 0;
      }
      const alive = left.filter((r) => groupAlive(r, procRoot));
      if (alive.length > 0) log.warn(`ending ${alive.length} job process group(s) a previous agent left running here (${alive.map((r) => `job ${r.jobId}`).join(", ")}) before taking new work`);
      for (const r of alive) signalGroupOf(r.pgid, "SIGTERM", `job ${r.jobId} (attempt ${r.attempt}), left by a previous agent`);
      const graceMs = Math.min(RECLAIM_GRACE_MS_MAX, Math.max(0, ...alive.map((r) => r.graceMs)));
      const deadline = now() + graceMs;
      while (alive.some((r) => groupAlive(r, procRoot)) && now() < deadline) await Bun.sleep(50);
      for (const r of alive) if (groupAlive(r, procRoot)) signalGroupOf(r.pgid, "SIGKILL", `job ${r.jobId} (attempt ${r.attempt}), left by a previous agent`);
      for (const r of left) {
        remember(r.jobId, r.attempt);
        const wasAlive = alive.includes(r);
        emit({
          type: "job_event",
          eventId: nextEventId(),
          jobId: r.jobId,
          attempt: r.attempt,
          event: "finished",
          at: wallClock(),
          state: "KILLED",
          exitCode: null,
          signal: null,
          startedAt: r.startedAt,
          lost: true,
          reason: wasAlive
            ? "the agent restarted while the job ran; its processes were ended before the agent took new work"
            : "the agent restarted while the job ran, and the job had ended meanwhile (its exit status is unknown)",
        });
      }
      clearRecords(recordsDir);
      return left.length;
    },
  };

  async function killAll(jobs: Job[], reason: string): Promise<void> {
    for (const j of jobs) killJob(j, reason, Math.min(graceOf(j), stopGraceMsMax));
    const boundMs = stopGraceMsMax + drainMs + 1_000;
    if (!(await within(Promise.all(jobs.map((j) => j.ended)), boundMs))) {
      log.warn(`${jobs.filter((j) => j.phase !== "ended").length} job(s) had not ended ${boundMs / 1000} s after they were killed (${reason})`);
    }
  }

  function peekJob(msg: PeekJob): JobOutput {
    const job = [...live.values()].find((j) => j.msg.jobId === msg.jobId && (msg.attempt === undefined || j.msg.attempt === msg.attempt));
    const base = { type: "job_output" as const, requestId: msg.requestId, jobId: msg.jobId, stdout: "", stderr: "", stdoutFrom: 0, stderrFrom: 0, stdoutTotal: 0, stderrTotal: 0 };
    if (!job || job.phase !== "running") return { ...base, running: false, ...(job ? { attempt: job.msg.attempt } : {}), error: `job ${msg.jobId} is not running on this host${job ? " yet" : ""}` };
    const max = Math.min(msg.maxBytes ?? PEEK_BYTES_MAX, PEEK_BYTES_MAX);
    const stream = (path: string | undefined, cap: Capture | null, from: number) => {
      if (path !== undefined) return peekFile(resolvePath(job.cwd ?? "/", path), from, max, job.user);
      const p = cap?.peek(from, max) ?? { text: "", from, total: 0 };
      return { text: p.text, from: p.from, total: p.total, error: undefined };
    };
    const o = stream(job.msg.stdoutPath, job.out, msg.stdoutFrom ?? 0);
    // `-o F -e F`: stderr went to the same file; show it once.
    const sameFile = job.msg.stderrPath !== undefined && job.msg.stderrPath === job.msg.stdoutPath;
    const e = sameFile ? { text: "", from: 0, total: 0, error: undefined } : stream(job.msg.stderrPath, job.err, msg.stderrFrom ?? 0);
    const error = o.error ?? e.error;
    return {
      ...base,
      attempt: job.msg.attempt,
      running: true,
      stdout: o.text,
      stderr: e.text,
      stdoutFrom: o.from,
      stderrFrom: e.from,
      stdoutTotal: o.total,
      stderrTotal: e.total,
      ...(error ? { error } : {}),
    };
  }
}

/** The agent's own user, for jobs when it cannot (or is not told to) switch: its USER and HOME as the agent has them. */
function agentUser(env: EnvSource): UnixUser {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? uid;
  let name = env.USER || "";
  let home = env.HOME || "";
  if (!name || !home) {
    try {
      const u = userInfo();
      name ||= u.username;
      home ||= u.homedir;
    } catch {
      // no passwd entry for the agent's uid
    }
  }
  return { name: name || "nobody", uid, gid, home: home || "/" };
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Bytes of an output file (`-o`/`-e`) from `from`: only a regular file,
 * not through a symlink, owned by the job's user (the agent reads as root:
 * a path pointing elsewhere must not become a way to read other files).
 */
function peekFile(path: string, from: number, max: number, user: UnixUser | null): { text: string; from: number; total: number; error: string | undefined } {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (e) {
    return { text: "", from, total: 0, error: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { text: "", from, total: 0, error: `${path} is not a regular file` };
    if (user !== null && st.uid !== user.uid) return { text: "", from, total: st.size, error: `${path} is not owned by the job's user (${user.name}); not shown` };
    const start = Math.min(from, st.size);
    const buf = Buffer.alloc(Math.min(max, st.size - start));
    const n = buf.length > 0 ? readSync(fd, buf, 0, buf.length, start) : 0;
    return { text: new TextDecoder("utf-8", { fatal: false }).decode(buf.subarray(0, n)), from: start, total: st.size, error: undefined };
  } finally {
    closeSync(fd);
  }
}
