/**
 * The master's job fabric (design §5): keeps PEND and RUN jobs in memory
 * (mirrored from applied commands), runs the pure scheduler when something
 * changed, dispatches placed jobs to agents over the control channel,
 * records what agents report, and requeues the jobs of dead hosts.
 *
 * Every transition is a command through the log; this class only decides
 * when to propose one and what to send to agents once it is committed.
 */
import { schedule, type QueueSpec, type SchedHost, type SchedJob } from "../../jobs/index.ts";
import type { AgentStatus, JobEvent, RunJob } from "../../control/index.ts";
import type { MasterConfig } from "../../config/index.ts";
import { activeJobs, type Applied, type Command, type JobRow } from "../../store/index.ts";
import { logger } from "../../log/index.ts";
import { hostState, type StatusPolicy } from "../hosts/status.ts";
import type { HostTable } from "../hosts/table.ts";
import type { MasterState } from "../state.ts";
import { authorizeJobEvent } from "./event-guard.ts";
import type { RefusalReason } from "../control/refusals.ts";

const log = logger("jobs");

export interface ActiveJob {
  id: number;
  state: "PEND" | "RUN";
  queue: string;
  priority: number;
  cpus: number;
  memBytes: number;
  gpus: number;
  argv: string[];
  env: Record<string, string> | null;
  cwd: string | null;
  timeoutSec: number | null;
  retries: number;
  attempts: number;
  hostId: number | null;
  hostname: string | null;
  dispatchedAt: number | null;
  /** From the agent's "started" event; memory only (durable with the end). */
  startedAt: number | null;
  notBefore: number;
  /**
   * The agent reported the end and its record is being written: the job's
   * resources are free for the scheduler already, so the next dispatch joins
   * the same group commit instead of waiting for this one.
   */
  ending?: boolean;
}

export interface JobSender {
  /** Sends a message on the host's control channel; false if it has none. */
  send(hostId: number, msg: unknown): boolean;
}

const RETRY_BACKOFF_CAP_MS = 10 * 60 * 1000;

function fromRow(r: JobRow): ActiveJob {
  return {
    id: r.id,
    state: r.state as "PEND" | "RUN",
    queue: r.queue,
    priority: r.priority,
    cpus: r.cpus,
    memBytes: r.memBytes,
    gpus: r.gpus,
    argv: JSON.parse(r.argv),
    env: r.env ? JSON.parse(r.env) : null,
    cwd: r.cwd,
    timeoutSec: r.timeoutSec,
    retries: r.retries,
    attempts: r.attempts,
    hostId: r.hostId,
    hostname: r.hostname,
    dispatchedAt: r.dispatchedAt,
    startedAt: null,
    notBefore: r.notBefore,
  };
}

/** Jobs submitted, and ended by end state, as applied since this master process started (Prometheus counters). */
export interface JobCounters {
  submitted: number;
  finished: Record<"DONE" | "EXIT" | "KILLED" | "LOST", number>;
}

export class JobManager {
  readonly active = new Map<number, ActiveJob>();
  /** Counted as commands are applied, so every master of the cluster counts the same entries. */
  readonly counters: JobCounters = { submitted: 0, finished: { DONE: 0, EXIT: 0, KILLED: 0, LOST: 0 } };
  /**
   * Indexes of `active` by state, kept by `track`: a round reads the PEND
   * jobs, and the resources in use come from the RUN jobs, without a pass
   * over every active job (a backlog of thousands is mostly PEND). Each PEND
   * job's scheduler view is made once, not once per round.
   */
  private readonly pending = new Map<number, SchedJob>();
  private readonly running = new Map<number, ActiveJob>();
  /** Why each pending job waits: the last round's answer (replaced whole each round). */
  private why = new Map<number, string>();
  /** Jobs this master process dispatched and has not seen start: the dispatch timeout applies to these only. */
  private readonly unstarted = new Map<number, number>();
  private roundScheduled = false;
  /**
   * The last round left jobs waiting: capacity, not the scheduler, is what
   * holds them, so a new submission cannot change the outcome until
   * something frees up (an end, a new host, the 1 s tick). Skipping those
   * rounds keeps a backlog of thousands from costing a full round per submit.
   */
  private saturated = false;
  private roundRunning = false;
  private rerun = false;
  private readonly timer: ReturnType<typeof setInterval>;
  /** Since when this master leads: silence and missing channels count from here at the earliest. */
  private startedMs: number;
  /** Only the leader schedules, dispatches and requeues; followers only mirror. */
  private leading = false;

  constructor(
    private readonly config: MasterConfig,
    private readonly state: MasterState,
    private readonly hosts: HostTable,
    private readonly policy: StatusPolicy,
    private readonly sender: JobSender,
    private readonly nowMs: () => number,
  ) {
    for (const row of activeJobs(state.store.db)) this.track(fromRow(row));
    this.startedMs = nowMs();
    // Periodic: backoffs expire, load changes, hosts die. Events kick a round sooner.
    this.timer = setInterval(() => {
      if (!this.leading) return;
      this.checkDeadHosts();
      this.kick();
    }, 1000);
    if (this.active.size) log.info(`${this.active.size} job(s) pending or running at start-up`);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Why each pending job waits, from the last scheduling round. */
  get waiting(): ReadonlyMap<number, string> {
    return this.why;
  }

  /** Adds or updates `j` in `active` and in the index of its state. */
  private track(j: ActiveJob): void {
    this.active.set(j.id, j);
    if (j.state === "PEND") {
      this.running.delete(j.id);
      this.pending.set(j.id, { id: j.id, queue: j.queue, priority: j.priority, cpus: j.cpus, memBytes: j.memBytes, gpus: j.gpus, notBeforeMs: j.notBefore });
    } else {
      this.pending.delete(j.id);
      this.running.set(j.id, j);
    }
  }

  private untrack(id: number): void {
    this.active.delete(id);
    this.pending.delete(id);
    this.running.delete(id);
  }

  /**
   * Leadership changed. A new leader gives every host the full grace
   * (lostAfter) from now before requeueing its jobs: the agents are still
   * finding their way to it.
   */
  setLeader(leading: boolean): void {
    this.leading = leading;
    if (!leading) return;
    this.startedMs = this.nowMs();
    this.unstarted.clear();
    this.kick();
  }

  /** Since when this master leads (its clock), or null on a follower: `lava ctl check` gives hosts a grace from here. */
  leadingSinceMs(): number | null {
    return this.leading ? this.startedMs : null;
  }

  /** The state was replaced by a snapshot: mirror it again. */
  reload(): void {
    this.active.clear();
    this.pending.clear();
    this.running.clear();
    this.why = new Map();
    this.unstarted.clear();
    for (const row of activeJobs(this.state.store.db)) this.track(fromRow(row));
  }

  queues(): Map<string, QueueSpec> {
    const running = new Map<string, number>();
    for (const j of this.running.values()) if (!j.ending) running.set(j.queue, (running.get(j.queue) ?? 0) + 1);
    const out = new Map<string, QueueSpec>();
    const defs: MasterConfig["queues"] = { default: { hosts: [], priority: 0, users: [] }, ...this.config.queues };
    for (const [name, q] of Object.entries(defs)) {
      out.set(name, { name, hosts: q.hosts, maxRunning: q.maxRunning, priority: q.priority, running: running.get(name) ?? 0 });
    }
    return out;
  }

  /** Scheduler view of every registered host. */
  schedHosts(): SchedHost[] {
    const used = new Map<number, { cpus: number; memBytes: number; gpus: number }>();
    for (const j of this.running.values()) {
      if (j.hostId === null || j.ending) continue;
      const u = used.get(j.hostId) ?? { cpus: 0, memBytes: 0, gpus: 0 };
      u.cpus += j.cpus;
      u.memBytes += j.memBytes;
      u.gpus += j.gpus;
      used.set(j.hostId, u);
    }
    const now = this.nowMs();
    const out: SchedHost[] = [];
    for (const h of this.hosts.values()) {
      out.push({
        hostId: h.hostId,
        hostname: h.hostname,
        state: hostState(h, now, this.policy),
        ncpus: h.hardware.ncpus,
        memBytes: h.hardware.memBytes,
        gpus: h.hardware.gpus ?? 0,
        load1: h.report?.load1 ?? null,
        used: used.get(h.hostId) ?? { cpus: 0, memBytes: 0, gpus: 0 },
      });
    }
    return out;
  }

  /** Asks for a scheduling round soon; many kicks in one tick make one round. */
  kick(): void {
    if (this.roundScheduled) return;
    this.roundScheduled = true;
    setImmediate(() => {
      this.roundScheduled = false;
      void this.round();
    });
  }

  private async round(): Promise<void> {
    if (!this.leading) return;
    if (this.roundRunning) {
      this.rerun = true;
      return;
    }
    this.roundRunning = true;
    try {
      if (this.pending.size === 0) {
        this.why = new Map();
        return;
      }
      const result = schedule([...this.pending.values()], this.schedHosts(), this.queues(), this.nowMs());
      this.saturated = result.waiting.size > 0;
      this.why = result.waiting;
      if (result.placements.length === 0) return;
      const byId = new Map([...this.hosts.values()].map((h) => [h.hostId, h]));
      await Promise.all(
        result.placements.map(async (p) => {
          const host = byId.get(p.hostId);
          if (!host) return;
          const applied = await this.propose({ type: "job.dispatch", jobId: p.jobId, hostId: p.hostId, hostname: host.hostname });
          if (!applied?.result.ok) return;
          const job = this.active.get(p.jobId);
          if (!job) return;
          this.unstarted.set(job.id, this.nowMs());
          if (!this.sender.send(p.hostId, this.runJobMessage(job))) log.debug(`job ${job.id}: ${host.hostname} has no control channel now; it will be requeued if it does not come back`);
        }),
      );
    } catch (e) {
      log.error(`scheduling round failed: ${(e as Error).message}`);
    } finally {
      this.roundRunning = false;
      if (this.rerun) {
        this.rerun = false;
        this.kick();
      }
    }
  }

  runJobMessage(j: ActiveJob): RunJob {
    return {
      type: "run_job",
      jobId: j.id,
      attempt: j.attempts,
      argv: j.argv,
      ...(j.env ? { env: j.env } : {}),
      ...(j.cwd ? { cwd: j.cwd } : {}),
      ...(j.timeoutSec ? { timeoutMs: j.timeoutSec * 1000 } : {}),
      killGraceMs: Math.round(this.config.jobs.killGrace * 1000),
    };
  }

  /** Proposes a system command (stamped "scheduler"); resolves undefined if state cannot be written. */
  private async propose(cmd: DistributiveOmit<Command, "at" | "actor" | "actorRole">): Promise<Applied | undefined> {
    try {
      return await this.state.propose({ ...cmd, at: this.nowMs(), actor: "scheduler", actorRole: "admin" } as Command);
    } catch (e) {
      log.error(`cannot record ${cmd.type}: ${(e as Error).message}`);
      return undefined;
    }
  }

  private count(cmd: Command, result: Applied["result"]): void {
    if (cmd.type === "job.submit") this.counters.submitted++;
    else if (cmd.type === "job.finish") this.counters.finished[cmd.state]++;
    else if (cmd.type === "job.cancel") this.counters.finished.KILLED++;
    else if (cmd.type === "job.requeue" && result.ok && result.value?.state === "LOST") this.counters.finished.LOST++;
  }

  /** Mirrors an applied job command into memory (called in log order by MasterState). */
  onApplied({ cmd, result }: Applied): void {
    if (!result.ok) return;
    this.count(cmd, result);
    switch (cmd.type) {
      case "job.submit": {
        const id = result.value!.jobId as number;
        this.track({
          id,
          state: "PEND",
          queue: cmd.queue,
          priority: cmd.priority,
          cpus: cmd.cpus,
          memBytes: cmd.memBytes,
          gpus: cmd.gpus,
          argv: cmd.argv,
          env: cmd.env ?? null,
          cwd: cmd.cwd ?? null,
          timeoutSec: cmd.timeoutSec ?? null,
          retries: cmd.retries,
          attempts: 0,
          hostId: null,
          hostname: null,
          dispatchedAt: null,
          startedAt: null,
          notBefore: 0,
        });
        if (!this.saturated) this.kick();
        else this.why.set(id, "queued behind jobs waiting for resources; considered at the next free slot");
        return;
      }
      case "job.dispatch": {
        const j = this.active.get(cmd.jobId);
        if (!j) return;
        Object.assign(j, { state: "RUN", attempts: result.value!.attempt as number, hostId: cmd.hostId, hostname: cmd.hostname, dispatchedAt: cmd.at, startedAt: null });
        this.track(j);
        return;
      }
      case "job.finish":
      case "job.cancel":
        this.untrack(cmd.jobId);
        this.unstarted.delete(cmd.jobId);
        this.why.delete(cmd.jobId);
        this.kick();
        return;
      case "job.requeue": {
        const j = this.active.get(cmd.jobId);
        this.unstarted.delete(cmd.jobId);
        if (!j) return;
        if (result.value!.state === "LOST") this.untrack(cmd.jobId);
        else this.track(Object.assign(j, { state: "PEND" as const, hostId: null, hostname: null, notBefore: cmd.notBefore, startedAt: null }));
        this.kick();
        return;
      }
      default:
        return;
    }
  }

  /** A job_event refused by the guard (counted by the control channel). */
  onRefusedEvent: (reason: RefusalReason) => void = () => {};

  /** An agent's job_event. Resolves to the event ids the master may acknowledge. */
  async onEvent(hostId: number, event: JobEvent): Promise<void> {
    // Only the host of the current attempt speaks for it; nothing else reaches the log (event-guard.ts).
    // A refused event is acked (the agent may forget it: no state changed), except a duplicate
    // of an end being recorded now, which is acked once that record is written.
    const verdict = authorizeJobEvent(this.active.get(event.jobId), hostId, event, this.nowMs());
    if (!verdict.ok) {
      this.onRefusedEvent(verdict.reason);
      if (verdict.reason !== "job_duplicate") this.sender.send(hostId, { type: "ack", eventIds: [event.eventId] });
      return;
    }
    const ev = verdict.event;
    const j = this.active.get(ev.jobId);
    if (ev.event === "started") {
      if (j && j.state === "RUN" && j.attempts === ev.attempt && j.hostId === hostId) {
        j.startedAt = ev.at;
        this.unstarted.delete(j.id);
      }
      this.sender.send(hostId, { type: "ack", eventIds: [ev.eventId] });
      return;
    }
    // finished: record once; a stale or duplicate report is refused by the state machine and acknowledged all the same.
    const current = j && j.state === "RUN" && j.attempts === ev.attempt && j.hostId === hostId ? j : undefined;
    if (current) {
      current.ending = true;
      this.kick();
    }
    const applied = await this.propose({
      type: "job.finish",
      jobId: ev.jobId,
      attempt: ev.attempt,
      state: ev.state ?? "EXIT",
      exitCode: ev.exitCode ?? null,
      signal: ev.signal ?? null,
      reason: ev.reason ?? null,
      startedAt: ev.startedAt ?? null,
      stdout: ev.stdout ?? "",
      stderr: ev.stderr ?? "",
      stdoutTruncated: ev.stdoutTruncated ?? false,
      stderrTruncated: ev.stderrTruncated ?? false,
    });
    if (applied) this.sender.send(hostId, { type: "ack", eventIds: [ev.eventId] });
    else if (current) current.ending = false; // not recorded: it still holds its resources
  }

  /**
   * After a (re)registration the agent lists what it runs. Jobs it runs that
   * we no longer expect there are killed; jobs we think run there that it
   * does not have (the agent restarted) are requeued. The agent sends its
   * unacknowledged events before this, so a job that finished while the
   * channel was down is recorded before it could be requeued.
   */
  async onStatus(hostId: number, st: AgentStatus, registeredAtMs: number): Promise<void> {
    const reported = new Set(st.jobs.map((x) => `${x.jobId}/${x.attempt}`));
    for (const x of st.jobs) {
      const j = this.active.get(x.jobId);
      if (!j || j.state !== "RUN" || j.attempts !== x.attempt || j.hostId !== hostId) {
        this.sender.send(hostId, { type: "kill_job", jobId: x.jobId, attempt: x.attempt, reason: "the master no longer expects this job here" });
      } else {
        this.unstarted.delete(j.id);
      }
    }
    for (const j of [...this.active.values()]) {
      if (j.state !== "RUN" || j.hostId !== hostId || reported.has(`${j.id}/${j.attempts}`)) continue;
      if (j.dispatchedAt !== null && j.dispatchedAt >= registeredAtMs) continue; // dispatched on this very session
      if (this.unstarted.has(j.id)) continue; // run_job may still be on its way
      await this.requeue(j, `${j.hostname} no longer runs it (agent restarted?)`);
    }
  }

  private readonly requeueing = new Set<number>();

  private async requeue(j: ActiveJob, reason: string): Promise<void> {
    if (this.requeueing.has(j.id)) return;
    this.requeueing.add(j.id);
    const backoff = Math.min(RETRY_BACKOFF_CAP_MS, this.config.jobs.retryBackoff * 1000 * 2 ** Math.max(0, j.attempts - 1));
    log.warn(`job ${j.id} attempt ${j.attempts}: ${reason}; ${j.attempts <= j.retries ? `retrying in ${Math.round(backoff / 1000)} s` : "no retries left: LOST"}`);
    try {
      await this.propose({ type: "job.requeue", jobId: j.id, attempt: j.attempts, reason, notBefore: this.nowMs() + backoff });
    } finally {
      this.requeueing.delete(j.id);
    }
  }

  /** Requeues (or loses) the running jobs of hosts that are gone, and dispatches nobody picked up. */
  checkDeadHosts(): void {
    const now = this.nowMs();
    const lostAfterMs = this.config.jobs.lostAfter * 1000;
    const unavailMs = 3.5 * this.policy.reportIntervalMs;
    for (const j of [...this.active.values()]) {
      if (j.state !== "RUN" || j.hostId === null) continue;
      const h = this.hosts.byHostId(j.hostId);
      if (!h) {
        void this.requeue(j, `host ${j.hostname} was removed`);
        continue;
      }
      // Silence and a missing channel both count from when they began, or from this master's start.
      const silentSince = Math.max(this.startedMs, h.lastReportMs + unavailMs);
      const goneSince = h.connected ? null : Math.max(this.startedMs, h.disconnectedAtMs);
      if (now - silentSince > lostAfterMs) void this.requeue(j, `host ${h.hostname} sent no load report for ${Math.round((now - h.lastReportMs) / 1000)} s`);
      else if (goneSince !== null && now - goneSince > lostAfterMs) void this.requeue(j, `host ${h.hostname} has had no control channel for ${Math.round((now - goneSince) / 1000)} s`);
      else {
        const sent = this.unstarted.get(j.id);
        if (sent !== undefined && now - sent > this.config.jobs.dispatchTimeout * 1000) {
          this.unstarted.delete(j.id);
          void this.requeue(j, `not started on ${h.hostname} within ${this.config.jobs.dispatchTimeout} s`);
        }
      }
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
