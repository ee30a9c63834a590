/**
 * The master's job fabric (design §5; docs/jobs.md): keeps PEND and RUN jobs
 * in memory (mirrored from applied commands), runs the pure scheduler when
 * something changed, dispatches placed jobs to agents over the control
 * channel, records what agents report, and requeues the jobs of dead hosts.
 *
 * Every transition is a command through the log; this class only decides
 * when to propose one and what to send to agents once it is committed.
 *
 * Before the scheduler sees a pending job, this class holds back what is
 * not the scheduler's business: held jobs, unmet dependencies (a job whose
 * dependency can never be met is ended here, KILLED with the reason), a
 * begin time in the future, and array elements beyond their array's limit
 * (arrays.ts). Hosts an agent has just registered stay closed until what
 * runs there has been reconciled (gate.ts).
 */
import { arraySummaryState, depIds, expandOutputPath, judgeDeps, schedule, type Deps, type HostFilter, type QueueSpec, type SchedHost, type SchedJob, type TargetState } from "../../jobs/index.ts";
import type { AgentStatus, JobEvent, RunJob } from "../../control/index.ts";
import type { MasterConfig } from "../../config/index.ts";
import { activeJobs, arrayById, arrayCounts, finalStates, type Applied, type Command, type JobPlacement, type JobRow } from "../../store/index.ts";
import { logger } from "../../log/index.ts";
import { hostState, type StatusPolicy } from "../hosts/status.ts";
import type { HostTable } from "../hosts/table.ts";
import type { MasterState } from "../state.ts";
import { authorizeJobEvent } from "./event-guard.ts";
import type { RefusalReason } from "../control/refusals.ts";
import { ARRAY_WINDOW, ArrayBook, zeroCounts } from "./arrays.ts";
import { ReconcileGate } from "./gate.ts";

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
  /** When the current attempt started (its job.start, or memory until that is written). */
  startedAt: number | null;
  notBefore: number;
  submittedBy: string;
  name: string | null;
  arrayId: number | null;
  arrayIndex: number | null;
  stdoutPath: string | null;
  stderrPath: string | null;
  deps: Deps | null;
  beginAt: number;
  heldBy: string | null;
  placement: JobPlacement | null;
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
  /** A job_event refused by the guard (counted by the control channel). */
  refused?(reason: RefusalReason): void;
}

const RETRY_BACKOFF_CAP_MS = 10 * 60 * 1000;
/** How long starts wait to be written together (see flushStartsSoon). */
const START_FLUSH_MS = 25;
/** Pending array elements looked at per array and round when they are held back (held, dependencies, begin). */
const ARRAY_SCAN_MAX = 64;
/** Final states of dependency targets kept in memory. */
const FINAL_CACHE_MAX = 100_000;

function parse<T>(text: string | null): T | null {
  return text ? (JSON.parse(text) as T) : null;
}

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
    env: parse(r.env),
    cwd: r.cwd,
    timeoutSec: r.timeoutSec,
    retries: r.retries,
    attempts: r.attempts,
    hostId: r.hostId,
    hostname: r.hostname,
    dispatchedAt: r.dispatchedAt,
    startedAt: r.startedAt,
    notBefore: r.notBefore,
    submittedBy: r.submittedBy,
    name: r.name,
    arrayId: r.arrayId,
    arrayIndex: r.arrayIndex,
    stdoutPath: r.stdoutPath,
    stderrPath: r.stderrPath,
    deps: parse(r.deps),
    beginAt: r.beginAt,
    heldBy: r.heldBy,
    placement: parse(r.placement),
  };
}

/** Jobs submitted, and ended by end state, as applied since this master process started (Prometheus counters). */
export interface JobCounters {
  submitted: number;
  finished: Record<"DONE" | "EXIT" | "KILLED" | "LOST", number>;
}
const iso = (ms: number) => new Date(ms).toISOString();

export class JobManager {
  readonly active = new Map<number, ActiveJob>();
  /** Counted as commands are applied, so every master of the cluster counts the same entries. */
  readonly counters: JobCounters = { submitted: 0, finished: { DONE: 0, EXIT: 0, KILLED: 0, LOST: 0 } };
  /**
   * Indexes of `active` by state, kept by `track`: a round reads the PEND
   * jobs, and the resources in use come from the RUN jobs, without a pass
   * over every active job (a backlog of thousands is mostly PEND). Each PEND
   * job's scheduler view is made once, not once per round. Array elements
   * are not in `pending`: arrays.ts has them.
   */
  private readonly pending = new Map<number, SchedJob>();
  private readonly running = new Map<number, ActiveJob>();
  private readonly arrays = new ArrayBook();
  /** Pending jobs that may be held back (held, dependencies, a begin time): looked at each round; the others go to the scheduler as they are. */
  private readonly gated = new Set<number>();
  /** Scheduler views of pending array elements, made once. */
  private readonly elementViews = new Map<number, SchedJob>();
  /** Why each pending job waits: the last round's answer (replaced whole each round). */
  private why = new Map<number, string>();
  /** Jobs this master process dispatched and has not seen start: the dispatch timeout applies to these only. */
  private readonly unstarted = new Map<number, number>();
  /** Final states of jobs and arrays dependants wait on (a bounded cache of the database). */
  private readonly finals = new Map<number, TargetState>();
  /** Jobs and arrays being ended because a dependency can never be met (one proposal each). */
  private readonly doomed = new Set<number>();
  private readonly gate: ReconcileGate;
  /** Starts reported and not yet written: one job.start entry carries the starts of one moment. */
  private startBatch: { jobId: number; attempt: number; at: number; hostId: number; eventId: string }[] = [];
  private startFlush = false;
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
    this.gate = new ReconcileGate(config.jobs.killGrace * 1000 + 5_000);
    this.load();
    this.startedMs = nowMs();
    // Periodic: backoffs and begin times expire, load changes, hosts die. Events kick a round sooner.
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

  /** The active jobs from the database, arrays with their counts. */
  private load(): void {
    const rows = activeJobs(this.state.store.db);
    const arrayIds = [...new Set(rows.filter((r) => r.arrayId !== null).map((r) => r.arrayId!))];
    const counts = arrayCounts(this.state.store.db, arrayIds);
    for (const id of arrayIds) {
      const a = arrayById(this.state.store.db, id);
      const c = counts.get(id) ?? {};
      // Elements are added one by one below; start from the ended ones.
      this.arrays.add(id, a?.maxRunning ?? undefined, { ...zeroCounts(), DONE: c.DONE ?? 0, EXIT: c.EXIT ?? 0, KILLED: c.KILLED ?? 0, LOST: c.LOST ?? 0 });
    }
    for (const row of rows) this.track(fromRow(row), null);
  }

  /** Why each pending job waits, from the last scheduling round (array elements beyond the window: see waitingFor). */
  get waiting(): ReadonlyMap<number, string> {
    return this.why;
  }

  /** Why pending job `id` waits, in words for `lava ctl job ID`. */
  waitingFor(id: number): string | null {
    const w = this.why.get(id);
    if (w !== undefined) return w;
    const j = this.active.get(id);
    if (!j || j.state !== "PEND") return null;
    const held = this.heldBack(j, this.nowMs(), false);
    if (held) return held;
    if (j.arrayId !== null) {
      const a = this.arrays.get(j.arrayId);
      if (a && a.maxRunning !== undefined && a.running >= a.maxRunning) return `array ${a.id} runs at most ${a.maxRunning} elements at once (${a.running} running)`;
      return `waiting behind earlier elements of array ${j.arrayId}`;
    }
    return "waiting for the next scheduling round";
  }

  /** Elements per state of an array with elements still pending or running; undefined once it has ended. */
  arrayCounts(id: number): Record<TargetState, number> | undefined {
    return this.arrays.get(id)?.counts;
  }

  /** Adds or updates `j` in `active` and in the index of its state; `from` is the state it was in (null: new). */
  private track(j: ActiveJob, from: TargetState | null): void {
    this.active.set(j.id, j);
    if (j.state === "PEND" && (j.heldBy !== null || j.deps !== null || j.beginAt > 0)) this.gated.add(j.id);
    else this.gated.delete(j.id);
    if (j.state === "PEND") {
      this.running.delete(j.id);
      const view: SchedJob = { id: j.id, queue: j.queue, priority: j.priority, cpus: j.cpus, memBytes: j.memBytes, gpus: j.gpus, notBeforeMs: j.notBefore, ...(j.placement ? { filter: j.placement as HostFilter } : {}) };
      if (j.arrayId !== null) {
        this.elementViews.set(j.id, view);
        this.arrays.pend(j.arrayId, j.id, from);
      } else this.pending.set(j.id, view);
    } else {
      this.pending.delete(j.id);
      this.elementViews.delete(j.id);
      this.running.set(j.id, j);
      if (j.arrayId !== null && from !== "RUN") this.arrays.run(j.arrayId, j.id, from);
    }
  }

  private untrack(id: number, to: TargetState): void {
    const j = this.active.get(id);
    this.active.delete(id);
    this.pending.delete(id);
    this.running.delete(id);
    this.elementViews.delete(id);
    this.gated.delete(id);
    this.unstarted.delete(id);
    this.why.delete(id);
    if (j?.arrayId !== null && j?.arrayId !== undefined) {
      const done = this.arrays.end(j.arrayId, id, j.state, to);
      if (done) this.rememberFinal(j.arrayId, arraySummaryState(done.counts));
    }
    this.rememberFinal(id, to);
  }

  private rememberFinal(id: number, state: TargetState): void {
    if (this.finals.size >= FINAL_CACHE_MAX) this.finals.clear();
    this.finals.set(id, state);
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
    this.elementViews.clear();
    this.gated.clear();
    this.arrays.clear();
    this.finals.clear();
    this.doomed.clear();
    this.why = new Map();
    this.unstarted.clear();
    this.load();
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

  /** Pending jobs per queue (array elements included), for `lava ctl queues`. */
  pendingByQueue(): Map<string, number> {
    const out = new Map<string, number>();
    for (const j of this.active.values()) if (j.state === "PEND") out.set(j.queue, (out.get(j.queue) ?? 0) + 1);
    return out;
  }

  /** Scheduler view of every registered host. */
  schedHosts(): SchedHost[] {
    const used = new Map<number, { cpus: number; memBytes: number; gpus: number; jobs: number; exclusive: boolean }>();
    for (const j of this.running.values()) {
      if (j.hostId === null || j.ending) continue;
      const u = used.get(j.hostId) ?? { cpus: 0, memBytes: 0, gpus: 0, jobs: 0, exclusive: false };
      u.cpus += j.cpus;
      u.memBytes += j.memBytes;
      u.gpus += j.gpus;
      u.jobs++;
      if (j.placement?.exclusive) u.exclusive = true;
      used.set(j.hostId, u);
    }
    const now = this.nowMs();
    const out: SchedHost[] = [];
    for (const h of this.hosts.values()) {
      const u = used.get(h.hostId);
      const closed = h.hardware.takesJobs === false ? "master host (agent.jobs.onMaster is off)" : this.gate.isClosed(h.hostId, now) ? "reconciling after its agent registered" : undefined;
      out.push({
        hostId: h.hostId,
        hostname: h.hostname,
        state: hostState(h, now, this.policy),
        ncpus: h.hardware.ncpus,
        memBytes: h.hardware.memBytes,
        gpus: h.hardware.gpus ?? 0,
        load1: h.report?.load1 ?? null,
        used: u ? { cpus: u.cpus, memBytes: u.memBytes, gpus: u.gpus } : { cpus: 0, memBytes: 0, gpus: 0 },
        labels: h.hardware.labels ?? [],
        jobs: u?.jobs ?? 0,
        ...(u?.exclusive ? { exclusive: true } : {}),
        ...(closed !== undefined ? { closed } : {}),
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

  /** The state of a job or array a dependency names; null if there is none. */
  private targetState(id: number): TargetState | null {
    const live = this.active.get(id);
    if (live) return live.state;
    const arr = this.arrays.get(id);
    if (arr) return arraySummaryState(arr.counts);
    const known = this.finals.get(id);
    if (known !== undefined) return known;
    // Not active: it has ended (the database has its final state), or it does not exist (not cached: ids are handed out later).
    const db = this.state.store.db;
    let st: TargetState | null = (finalStates(db, [id]).get(id) as TargetState | undefined) ?? null;
    if (st === null && arrayById(db, id)) st = arraySummaryState(arrayCounts(db, [id]).get(id) ?? {});
    if (st !== null) this.rememberFinal(id, st);
    return st;
  }

  /**
   * Why a pending job is not shown to the scheduler now (held, a dependency,
   * its begin time), or null. With `act`, a dependency that can never be
   * met ends the job (or its whole array).
   */
  private heldBack(j: ActiveJob, now: number, act: boolean): string | null {
    if (j.heldBy !== null) return `held by ${j.heldBy} (lava ctl release ${j.arrayId ?? j.id})`;
    if (j.deps) {
      const v = judgeDeps(j.deps, (id) => this.targetState(id));
      if (v.kind === "never") {
        if (act) this.doom(j.arrayId ?? j.id, v.reason);
        return v.reason;
      }
      if (v.kind === "wait") return v.reason;
    }
    if (now < j.beginAt) return `begins at ${iso(j.beginAt)}`;
    return null;
  }

  private doom(id: number, reason: string): void {
    if (this.doomed.has(id)) return;
    this.doomed.add(id);
    void this.propose({ type: "job.cancel", jobId: id, reason }).finally(() => this.doomed.delete(id));
  }

  /** What the scheduler is shown this round, and why the rest waits. */
  private candidates(now: number, why: Map<number, string>): SchedJob[] {
    // Nothing held back (the common case): the pending views as they are, without a look at each.
    const out: SchedJob[] = this.gated.size === 0 ? [...this.pending.values()] : [];
    if (this.gated.size > 0) {
      for (const view of this.pending.values()) {
        const held = this.gated.has(view.id) ? this.heldBack(this.active.get(view.id)!, now, true) : null;
        if (held !== null) why.set(view.id, held);
        else out.push(view);
      }
    }
    for (const a of this.arrays.values()) {
      let room = Math.min(ARRAY_WINDOW, a.maxRunning === undefined ? Infinity : a.maxRunning - a.running);
      let scanned = 0;
      for (const id of a.pending) {
        if (room <= 0 || scanned >= ARRAY_SCAN_MAX + ARRAY_WINDOW) break;
        scanned++;
        const held = this.gated.has(id) ? this.heldBack(this.active.get(id)!, now, true) : null;
        if (held !== null) {
          why.set(id, held);
          continue;
        }
        out.push(this.elementViews.get(id)!);
        room--;
      }
    }
    return out;
  }

  private async round(): Promise<void> {
    if (!this.leading) return;
    if (this.roundRunning) {
      this.rerun = true;
      return;
    }
    this.roundRunning = true;
    try {
      if (this.pending.size === 0 && this.elementViews.size === 0) {
        this.why = new Map();
        return;
      }
      const now = this.nowMs();
      const held = new Map<number, string>();
      const cand = this.candidates(now, held);
      const result = schedule(cand, this.schedHosts(), this.queues(), now);
      this.saturated = result.waiting.size > 0;
      // The scheduler's own map, with the held-back reasons added (a backlog of thousands is not copied each round).
      for (const [id, w] of held) result.waiting.set(id, w);
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
    const ids = { jobId: j.id, arrayId: j.arrayId, arrayIndex: j.arrayIndex };
    return {
      type: "run_job",
      jobId: j.id,
      attempt: j.attempts,
      argv: j.argv,
      ...(j.env ? { env: j.env } : {}),
      ...(j.cwd ? { cwd: j.cwd } : {}),
      ...(j.timeoutSec ? { timeoutMs: j.timeoutSec * 1000 } : {}),
      killGraceMs: Math.round(this.config.jobs.killGrace * 1000),
      subject: j.submittedBy,
      ...(j.gpus > 0 ? { gpus: j.gpus } : {}),
      ...(j.arrayId !== null && j.arrayIndex !== null ? { arrayId: j.arrayId, arrayIndex: j.arrayIndex } : {}),
      ...(j.name !== null ? { name: j.name } : {}),
      ...(j.stdoutPath !== null ? { stdoutPath: expandOutputPath(j.stdoutPath, ids) } : {}),
      ...(j.stderrPath !== null ? { stderrPath: expandOutputPath(j.stderrPath, ids) } : {}),
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
        const base: ActiveJob = {
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
          submittedBy: cmd.actor,
          name: cmd.name ?? null,
          arrayId: null,
          arrayIndex: null,
          stdoutPath: cmd.stdoutPath ?? null,
          stderrPath: cmd.stderrPath ?? null,
          deps: cmd.deps && depIds(cmd.deps).length > 0 ? cmd.deps : null,
          beginAt: cmd.beginAt ?? 0,
          heldBy: cmd.hold ? cmd.actor : null,
          placement: cmd.placement ?? null,
        };
        const arr = cmd.array;
        if (!arr) this.track(base, null);
        else {
          this.arrays.add(id, arr.maxRunning);
          for (let k = 0; k < arr.count; k++) this.track({ ...base, id: id + 1 + k, arrayId: id, arrayIndex: arr.first + k * arr.step }, null);
        }
        if (!this.saturated) this.kick();
        else if (!arr && !this.gated.has(id)) this.why.set(id, "queued behind jobs waiting for resources; considered at the next free slot");
        return;
      }
      case "job.dispatch": {
        const j = this.active.get(cmd.jobId);
        if (!j) return;
        Object.assign(j, { state: "RUN", attempts: result.value!.attempt as number, hostId: cmd.hostId, hostname: cmd.hostname, dispatchedAt: cmd.at, startedAt: null });
        this.track(j, "PEND");
        return;
      }
      case "job.start": {
        const started = new Set(result.value!.started as number[]);
        for (const s of cmd.starts) {
          const j = this.active.get(s.jobId);
          if (j && started.has(s.jobId) && j.attempts === s.attempt) j.startedAt = s.at;
        }
        return;
      }
      case "job.finish":
        this.ended(cmd.jobId, cmd.state);
        return;
      case "job.cancel": {
        const v = result.value!;
        const ids = v.array ? (v.cancelled as number[]) : [cmd.jobId];
        for (const id of ids) this.ended(id, "KILLED");
        // The leader ends what ran (a follower has no agent sessions: send finds none).
        for (const r of (v.running as { jobId: number; hostId: number; attempt: number }[] | undefined) ?? []) {
          this.sender.send(r.hostId, { type: "kill_job", jobId: r.jobId, attempt: r.attempt, reason: cmd.reason });
        }
        return;
      }
      case "job.hold":
      case "job.release":
        for (const id of result.value!.jobIds as number[]) {
          const j = this.active.get(id);
          if (!j) continue;
          j.heldBy = cmd.type === "job.hold" ? cmd.actor : null;
          if (j.heldBy !== null || j.deps !== null || j.beginAt > 0) this.gated.add(id);
          else this.gated.delete(id);
        }
        this.kick();
        return;
      case "job.requeue": {
        const j = this.active.get(cmd.jobId);
        this.unstarted.delete(cmd.jobId);
        if (!j) return;
        if (result.value!.state === "LOST") this.ended(cmd.jobId, "LOST");
        else this.track(Object.assign(j, { state: "PEND" as const, hostId: null, hostname: null, notBefore: cmd.notBefore, startedAt: null }), "RUN");
        this.kick();
        return;
      }
      default:
        return;
    }
  }

  private ended(id: number, to: TargetState): void {
    if (!this.active.has(id)) return;
    this.untrack(id, to);
    this.kick();
  }

  /** An agent's job_event. */
  async onEvent(hostId: number, event: JobEvent): Promise<void> {
    // The end of an attempt this host was told to kill lets it take work again (gate.ts), recorded or not:
    // a host only ever clears its own gate, and only of what the master asked it to end.
    if (event.event === "finished") this.gate.ended(hostId, `${event.jobId}/${event.attempt}`);
    // Only the host of the current attempt speaks for it; nothing else reaches the log (event-guard.ts).
    // A refused event is acked (the agent may forget it: no state changed), except a duplicate
    // of an end being recorded now, which is acked once that record is written.
    const verdict = authorizeJobEvent(this.active.get(event.jobId), hostId, event, this.nowMs());
    if (!verdict.ok) {
      this.sender.refused?.(verdict.reason);
      if (verdict.reason !== "job_duplicate") this.sender.send(hostId, { type: "ack", eventIds: [event.eventId] });
      return;
    }
    const ev = verdict.event;
    const j = this.active.get(ev.jobId);
    const current = j && j.state === "RUN" && j.attempts === ev.attempt && j.hostId === hostId ? j : undefined;
    if (ev.event === "started") {
      if (!current) {
        this.sender.send(hostId, { type: "ack", eventIds: [ev.eventId] });
        return;
      }
      current.startedAt = ev.at;
      this.unstarted.delete(current.id);
      this.startBatch.push({ jobId: ev.jobId, attempt: ev.attempt, at: ev.at, hostId, eventId: ev.eventId });
      this.flushStartsSoon();
      return;
    }
    if (ev.lost) {
      // Ended by the host, not by the job: like an attempt of a dead host.
      if (current) await this.requeue(current, ev.reason ?? "its host ended it");
      this.sender.send(hostId, { type: "ack", eventIds: [ev.eventId] });
      return;
    }
    // finished: record once; a stale or duplicate report is refused by the state machine and acknowledged all the same.
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
      elapsedMs: ev.elapsedMs ?? null,
      cpuUserMs: ev.cpuUserMs ?? null,
      cpuSysMs: ev.cpuSysMs ?? null,
      maxRssBytes: ev.maxRssBytes ?? null,
    });
    if (applied) this.sender.send(hostId, { type: "ack", eventIds: [ev.eventId] });
    else if (current) current.ending = false; // not recorded: it still holds its resources
  }

  /**
   * Starts are written START_FLUSH_MS after the first of a batch: the
   * starts of that moment share one entry, and a job that ends within it
   * (most short jobs) needs none, since its end carries the start.
   */
  private flushStartsSoon(): void {
    if (this.startFlush) return;
    this.startFlush = true;
    setTimeout(() => {
      this.startFlush = false;
      void this.flushStarts();
    }, START_FLUSH_MS);
  }

  /** Writes the batched starts (one entry) and acks their events once durable; starts whose end came meanwhile are only acked. */
  private async flushStarts(): Promise<void> {
    while (this.startBatch.length > 0) {
      const all = this.startBatch.splice(0, 1000);
      const batch: typeof all = [];
      for (const s of all) {
        const j = this.active.get(s.jobId);
        if (j && j.state === "RUN" && j.attempts === s.attempt && !j.ending) batch.push(s);
        else this.sender.send(s.hostId, { type: "ack", eventIds: [s.eventId] });
      }
      if (batch.length === 0) continue;
      const applied = await this.propose({ type: "job.start", starts: batch.map(({ jobId, attempt, at }) => ({ jobId, attempt, at })) });
      if (!applied) continue; // not written: the agents send the events again after their next registration
      const byHost = new Map<number, string[]>();
      for (const s of batch) byHost.set(s.hostId, [...(byHost.get(s.hostId) ?? []), s.eventId]);
      for (const [hostId, eventIds] of byHost) this.sender.send(hostId, { type: "ack", eventIds });
    }
  }

  /** A host's agent registered: no new job goes there until its status is reconciled. */
  onRegistered(hostId: number): void {
    this.gate.registered(hostId, this.nowMs());
  }

  /**
   * After a (re)registration the agent lists what it runs. Jobs it runs that
   * we no longer expect there are killed; jobs we think run there that it
   * does not have (the agent restarted) are requeued. The agent sends its
   * unacknowledged events before this, so a job that finished while the
   * channel was down is recorded before it could be requeued. The host
   * takes new jobs once the killed ones have ended (gate.ts).
   */
  async onStatus(hostId: number, st: AgentStatus, registeredAtMs: number): Promise<void> {
    const reported = new Set(st.jobs.map((x) => `${x.jobId}/${x.attempt}`));
    const kills: string[] = [];
    for (const x of st.jobs) {
      const j = this.active.get(x.jobId);
      if (!j || j.state !== "RUN" || j.attempts !== x.attempt || j.hostId !== hostId) {
        kills.push(`${x.jobId}/${x.attempt}`);
        this.sender.send(hostId, { type: "kill_job", jobId: x.jobId, attempt: x.attempt, reason: "the master no longer expects this job here" });
      } else {
        this.unstarted.delete(j.id);
      }
    }
    this.gate.reconciled(hostId, kills);
    if (kills.length === 0) this.kick();
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
      await this.propose({ type: "job.requeue", jobId: j.id, attempt: j.attempts, reason: reason.slice(0, 4000), notBefore: this.nowMs() + backoff });
    } finally {
      this.requeueing.delete(j.id);
    }
  }

  /** Requeues (or loses) the running jobs of hosts that are gone, and dispatches nobody picked up. */
  checkDeadHosts(): void {
    const now = this.nowMs();
    const lostAfterMs = this.config.jobs.lostAfter * 1000;
    const unavailMs = 3.5 * this.policy.reportIntervalMs;
    for (const j of [...this.running.values()]) {
      if (j.hostId === null) continue;
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
