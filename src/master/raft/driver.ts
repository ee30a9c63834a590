/**
 * Runs the pure Raft core (src/raft) for a master: ticks it, steps peer
 * messages and proposals into it, and carries out each Ready against its
 * storage and the transport. The master's durable state is the state
 * machine; one master alone is a one-voter cluster that commits as soon as
 * it has written, so there is one code path for 1, 3 or 5 masters.
 *
 * One Ready is one IMMEDIATE transaction (one fsync): the new entries, the
 * hard state and every committed entry applied, with lastApplied — so a
 * crash at any point restarts to the same state, and concurrent proposals
 * made in one event-loop turn share that fsync (group commit).
 *
 * Order (the Ready contract of src/raft/types.ts), with one refinement from
 * the Raft thesis (§10.2.1): a leader sends its appends *before* writing
 * its own copy, so the followers write theirs while it writes its own.
 * The core counts the leader's own entries towards the commit index as
 * soon as they are appended, not once written, so this is safe only
 * because of how the write is done here: it is synchronous, and a
 * follower's answer can only be stepped from a later turn of the event
 * loop (the transport never delivers re-entrantly). By the time the core
 * can count any follower's acknowledgement, the leader's own copy is on
 * disk; if the write fails, the core is rebuilt from what is on disk, so
 * nothing it counted on the unwritten copy survives. A lone voter's commit
 * comes in the same Ready as its entries and is applied in the same
 * transaction, after them. Everything else (votes, append answers) is sent
 * only after the write. The driver-level simulation (tests/sim/driver)
 * runs this class with crash points around that write.
 *
 * Time, storage and the state machine are injected (DriverTimers,
 * DriverStorage, StateMachine): the event loop and SQLite in a master, a
 * simulated clock and disk in tests/sim/driver.
 */
import { decodeConfChange, RawNode } from "../../raft/index.ts";
import type { ConfChange, Entry, HardState, Message, ProposeError, RaftStatus, RaftStorage, Ready, SnapshotMeta, SoftState } from "../../raft/types.ts";
import { StoreError, type Members } from "../../store/index.ts";
import { logger } from "../../log/index.ts";

const log = logger("raft");

/** Stops a timer. */
export type Cancel = () => void;

/** How the driver waits: the event loop in a master, the simulator's clock in tests/sim/driver. */
export interface DriverTimers {
  every(ms: number, fn: () => void): Cancel;
  after(ms: number, fn: () => void): Cancel;
  /** Runs `fn` once the event loop has handled what is already queued (setImmediate): a turn's proposals share one Ready. */
  soon(fn: () => void): void;
}

export const eventLoopTimers: DriverTimers = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  soon(fn) {
    setImmediate(fn);
  },
};

/**
 * What the driver needs of its storage beyond what the core reads
 * (src/store/raft-storage.ts in a master). `write` is one transaction,
 * durable when it returns if it holds entries or a new term or vote;
 * it throws (and changes nothing) when it fails.
 */
export interface DriverStorage extends RaftStorage {
  readonly hardState: HardState;
  readonly lastApplied: number;
  readonly members: Members;
  write(inTx: () => void, entries?: Entry[], hardState?: HardState): void;
  /** Inside write(): a conf entry was applied. */
  setMembersInTx(members: Members): void;
  /** Inside write(): the state machine has applied up to `idx`. */
  setAppliedInTx(idx: number): void;
  /** Replaces the whole state by the snapshot at `path` (what the transport received). */
  installSnapshotFile(path: string, meta: SnapshotMeta, hardState: HardState): void;
  /** Drops applied entries up to `upTo`. */
  compact(upTo: number): void;
}

/** The state machine: applies a committed normal entry inside the Ready's transaction. */
export interface StateMachine<A extends { idx: number }> {
  /** What applying `e` produced; null when nothing waits for it (a leader's no-op, an entry this version cannot read). */
  apply(e: Entry): A | null;
}

/**
 * Breaks the driver on purpose, for the simulator to prove it notices
 * (like RaftConfig.testingKnobs for the core). Production code never sets
 * it; the driver refuses it without `iKnowThisBreaksRaft: true`.
 */
export interface DriverTestingKnobs {
  iKnowThisBreaksRaft: true;
  /** A follower answers (on the response to the leader's request) before its write, which waits for the next turn. */
  ackBeforeWrite?: boolean;
  /** Apply committed entries (and answer their clients) in a transaction of their own, before the Ready's entries and hard state are written. */
  applyBeforeWrite?: boolean;
}

export interface DriverConfig {
  id: number;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  batchSize: number;
  maxInflight: number;
  resyncThreshold: number;
  /** Applied entries kept for lagging followers before the log is compacted. */
  keepEntries: number;
  proposalTimeoutMs: number;
  rng: () => number;
  /** Campaign as soon as started (the LAVA_IS_LEADER hint); a lone voter always does. */
  campaignAtStart: boolean;
  testingKnobs?: DriverTestingKnobs;
}

export interface DriverHooks<A> {
  /** Hand messages to the transport (it must not block, and must never step a message into this driver before returning). */
  send(msgs: Message[]): void;
  /** An applied command, in log order, after its transaction committed. */
  onApplied(a: A): void;
  /** The applied membership changed (a conf entry, or a snapshot). */
  onMembers(m: Members): void;
  /** The whole state was replaced by a snapshot: reload every in-memory view. */
  onSnapshotInstalled(): void;
  /** Leader or role changed. */
  onSoftState(s: SoftState, term: number): void;
}

/** How a write or a read ends: an error, or (for a write) what applying it produced. */
export type Done<T> = (err: StoreError | null, value?: T) => void;

interface Waiter<A> {
  term: number;
  done: Done<A | Members>;
  cancel: Cancel;
}

interface ReadWaiter {
  done: (err: StoreError | null) => void;
  cancel: Cancel;
}

const WRITE_RETRY_MS_MIN = 100;
const WRITE_RETRY_MS_MAX = 2_000;
/** Most Ready rounds handled in one go before yielding to the event loop. */
const READY_ROUNDS_MAX = 64;

export class RaftDriver<A extends { idx: number }> {
  private node: RawNode;
  private soft: SoftState = { leader: 0, role: "follower" };
  private readonly waiters = new Map<number, Waiter<A>>();
  /** Reads queued in this turn: one read-index round serves them all. */
  private queuedReads: ReadWaiter[] = [];
  private readonly readRounds = new Map<string, ReadWaiter[]>();
  /** Read rounds confirmed, waiting for the state machine to reach their index. */
  private confirmedReads: { index: number; readers: ReadWaiter[] }[] = [];
  private readSeq = 0;
  private scheduled = false;
  /** Set while writes are refused after a failed write (see writeFailed). */
  private blocked: StoreError | null = null;
  private failures = 0;
  private ticker: Cancel | null = null;
  private stopped = false;
  /** The received snapshot file stepped into the core, if any. */
  private installedSnapshot: string | null = null;
  private readonly drainSoon = () => this.drain();
  private readonly knobs: DriverTestingKnobs | undefined;
  /** testingKnobs.ackBeforeWrite: a Ready's write is waiting for the next turn. */
  private writeLater = false;

  constructor(
    private readonly cfg: DriverConfig,
    readonly storage: DriverStorage,
    private readonly machine: StateMachine<A>,
    private readonly hooks: DriverHooks<A>,
    private readonly timers: DriverTimers = eventLoopTimers,
  ) {
    if (cfg.testingKnobs && cfg.testingKnobs.iKnowThisBreaksRaft !== true) throw new Error("RaftDriver: testingKnobs break Raft on purpose; they are for the simulator only");
    this.knobs = cfg.testingKnobs;
    this.node = this.newNode();
  }

  private newNode(): RawNode {
    return new RawNode({
      id: this.cfg.id,
      storage: this.storage,
      electionTick: this.cfg.electionTicks,
      heartbeatTick: this.cfg.heartbeatTicks,
      maxEntriesPerMsg: this.cfg.batchSize,
      maxInflightMsgs: this.cfg.maxInflight,
      resyncThreshold: this.cfg.resyncThreshold,
      preVote: true,
      checkQuorum: true,
      // Followers learn the commit index from the next append or heartbeat: fewer messages per write.
      commitBroadcast: false,
      rng: this.cfg.rng,
      applied: this.storage.lastApplied,
    });
  }

  start(): void {
    const voters = this.storage.members.voters;
    if (this.cfg.campaignAtStart || (voters.length === 1 && voters[0] === this.cfg.id)) this.node.campaign();
    this.drain();
    this.ticker = this.timers.every(this.cfg.tickMs, () => {
      this.node.tick();
      this.schedule();
    });
  }

  stop(): void {
    this.stopped = true;
    this.ticker?.();
    const err = new StoreError("the master is shutting down; the write may or may not be applied", "unknown_outcome");
    this.failAll(err);
  }

  // ---- queries

  get id(): number {
    return this.cfg.id;
  }
  get isLeader(): boolean {
    return this.soft.role === "leader";
  }
  get leaderId(): number {
    return this.soft.leader;
  }
  get leaderAddr(): string | null {
    return this.soft.leader ? (this.storage.members.addrs[this.soft.leader] ?? null) : null;
  }
  status(): RaftStatus {
    return this.node.status();
  }

  // ---- inputs

  step(msg: Message): void {
    if (this.stopped) return;
    this.node.step(msg);
    this.schedule();
  }

  /**
   * Steps a peer's batch and carries out the resulting Ready at once
   * (persisted before this returns), so that the answers can go back on
   * the response of the request that brought the batch.
   */
  stepAndDrain(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) this.node.step(m);
    this.drain();
  }

  /**
   * Steps a snapshot message whose data (a database file another master
   * streamed) is at `path`. Returns whether it replaced our state; if not
   * (stale, or from a deposed leader), the caller deletes the file.
   */
  stepSnapshot(msg: Message, path: string): boolean {
    if (this.stopped || !msg.snapshot) return false;
    this.installedSnapshot = null;
    this.node.step({ ...msg, snapshot: { meta: msg.snapshot.meta, data: path } });
    this.drain();
    return this.installedSnapshot === path;
  }

  /** Appends `data` (a command); resolves once it is committed and applied here. */
  propose(data: string): Promise<A> {
    return new Promise((resolve, reject) => this.submit(data, (err, a) => (err ? reject(err) : resolve(a!))));
  }

  /** propose() with a callback (the simulator has no microtask queue to wait on). */
  submit(data: string, done: Done<A>): void {
    if (this.stopped) return done(new StoreError("the master is shutting down", "unknown_outcome"));
    if (this.blocked) return done(this.blocked);
    const r = this.node.propose(data);
    if (!r.ok) return done(this.refusal(r));
    this.schedule();
    this.wait(r.index, r.term, done as Done<A | Members>);
  }

  /** A membership change; resolves with the new membership once applied. */
  proposeConfChange(cc: ConfChange): Promise<Members> {
    return new Promise((resolve, reject) => {
      const r = this.node.proposeConfChange(cc);
      if (!r.ok) return reject(this.refusal(r));
      this.schedule();
      this.wait(r.index, r.term, (err, m) => (err ? reject(err) : resolve(m as Members)));
    });
  }

  transferLeader(to: number): void {
    const r = this.node.transferLeader(to);
    if (!r.ok) throw this.refusal(r);
    this.schedule();
  }

  forceSnapshot(to: number): void {
    const r = this.node.forceSnapshot(to);
    if (!r.ok) throw this.refusal(r);
    this.schedule();
  }

  reportUnreachable(id: number): void {
    this.node.reportUnreachable(id);
    this.schedule();
  }

  reportSnapshot(id: number, ok: boolean): void {
    this.node.reportSnapshot(id, ok);
    this.schedule();
  }

  /**
   * Linearizable read barrier (read index, Raft §6.4): resolves once this
   * master's state reflects every write committed before the call. Reads
   * queued in one event-loop turn share one round.
   */
  readBarrier(): Promise<void> {
    return new Promise((resolve, reject) => this.read((err) => (err ? reject(err) : resolve())));
  }

  /** readBarrier() with a callback. */
  read(done: (err: StoreError | null) => void): void {
    if (this.stopped) return done(new StoreError("the master is shutting down", "unknown_outcome"));
    this.reader(`could not confirm this master's state with a majority within ${this.cfg.proposalTimeoutMs} ms`, done, (w) => {
      this.queuedReads.push(w);
      this.schedule();
    });
  }

  /** Resolves once this master has applied entry `index` (after a write another master committed for us). */
  waitApplied(index: number): Promise<void> {
    if (this.storage.lastApplied >= index) return Promise.resolve();
    return new Promise((resolve, reject) =>
      this.reader(`entry ${index} was committed but not applied here within ${this.cfg.proposalTimeoutMs} ms`, (err) => (err ? reject(err) : resolve()), (w) => this.confirmedReads.push({ index, readers: [w] })),
    );
  }

  /** A waiter that fails after proposalTimeoutMs with `timeoutText`; `enqueue` puts it where it waits. */
  private reader(timeoutText: string, done: (err: StoreError | null) => void, enqueue: (w: ReadWaiter) => void): void {
    const w: ReadWaiter = {
      done,
      cancel: this.timers.after(this.cfg.proposalTimeoutMs, () => {
        this.dropReader(w);
        done(new StoreError(timeoutText, "commit_timeout", this.leaderAddr));
      }),
    };
    enqueue(w);
  }

  private dropReader(w: ReadWaiter): void {
    this.queuedReads = this.queuedReads.filter((x) => x !== w);
    for (const [k, list] of this.readRounds) {
      const rest = list.filter((x) => x !== w);
      if (rest.length) this.readRounds.set(k, rest);
      else this.readRounds.delete(k);
    }
    for (const c of this.confirmedReads) c.readers = c.readers.filter((x) => x !== w);
  }

  private refusal(r: ProposeError): StoreError {
    switch (r.error) {
      case "not_leader": {
        const addr = r.leader ? (this.storage.members.addrs[r.leader] ?? null) : null;
        return new StoreError(addr ? `this master is not the leader; the leader is node ${r.leader} at ${addr}` : "no leader is elected right now (an election is under way, or no majority of masters is up); retry shortly", "not_leader", addr);
      }
      case "transfer_in_progress":
        return new StoreError("leadership is being handed over; retry shortly", "not_leader", null);
      default:
        return new StoreError(`${r.error}: ${r.detail}`, "not_leader", this.leaderAddr);
    }
  }

  private wait(index: number, term: number, done: Done<A | Members>): void {
    const cancel = this.timers.after(this.cfg.proposalTimeoutMs, () => {
      this.waiters.delete(index);
      done(new StoreError(`the write was not committed within ${this.cfg.proposalTimeoutMs} ms (is a majority of masters up?); it may still be applied`, "commit_timeout", this.leaderAddr));
    });
    this.waiters.set(index, { term, done, cancel });
  }

  /** Fails every waiting write and read with `err`; writes at or below `logged` (already on disk) with `inLogErr`. */
  private failAll(err: StoreError, inLogErr = err, logged = 0): void {
    for (const [i, w] of this.waiters) {
      w.cancel();
      this.waiters.delete(i);
      w.done(i <= logged ? inLogErr : err);
    }
    const readers = [...this.queuedReads, ...[...this.readRounds.values()].flat(), ...this.confirmedReads.flatMap((c) => c.readers)];
    this.queuedReads = [];
    this.readRounds.clear();
    this.confirmedReads = [];
    for (const r of readers) {
      r.cancel();
      r.done(err);
    }
  }

  // ---- the Ready loop

  private schedule(): void {
    if (this.scheduled || this.stopped || this.blocked) return;
    this.scheduled = true;
    // After what the event loop already holds: every request of this turn joins this round.
    this.timers.soon(this.drainSoon);
  }

  private drain(): void {
    this.scheduled = false;
    if (this.stopped || this.blocked || this.writeLater) return;
    if (this.queuedReads.length > 0) {
      const ctx = `${this.cfg.id}.${++this.readSeq}`;
      const readers = this.queuedReads;
      this.queuedReads = [];
      const r = this.node.readIndex(ctx);
      if (r.ok) this.readRounds.set(ctx, readers);
      else {
        const err = this.refusal(r);
        for (const w of readers) {
          w.cancel();
          w.done(err);
        }
      }
    }
    for (let i = 0; i < READY_ROUNDS_MAX && this.node.hasReady(); i++) {
      const rd = this.node.ready();
      if (!this.handle(rd)) return;
      this.node.advance(rd);
    }
    if (this.node.hasReady()) this.schedule();
    else this.failures = 0;
  }

  /** Carries out one Ready; false if writing failed (the core was restarted from storage), or (a testing knob) waits. */
  private handle(rd: Ready): boolean {
    if (rd.softState) {
      const was = this.soft;
      this.soft = rd.softState;
      if (was.leader !== rd.softState.leader || was.role !== rd.softState.role) this.hooks.onSoftState(rd.softState, rd.hardState?.term ?? this.storage.hardState.term);
    }
    let late = rd.messages;
    if (this.soft.role === "leader" && rd.messages.length > 0) {
      const early = rd.messages.filter((m) => m.type === "append" || m.type === "heartbeat");
      late = rd.messages.filter((m) => m.type !== "append" && m.type !== "heartbeat");
      if (early.length > 0) this.hooks.send(early);
    } else if (this.knobs?.ackBeforeWrite && (rd.entries.length > 0 || rd.hardState)) {
      if (late.length > 0) this.hooks.send(late);
      this.writeLater = true;
      this.timers.soon(() => {
        this.writeLater = false;
        if (this.stopped) return;
        if (this.persist(rd, [])) this.node.advance(rd);
        this.schedule();
      });
      return false;
    }
    return this.persist(rd, late);
  }

  /** Writes a Ready and applies what it commits, then sends `late`; false if writing failed (the core was restarted from storage). */
  private persist(rd: Ready, late: Message[]): boolean {
    const applied: { a: A; term: number }[] = [];
    const confs: { cc: ConfChange; index: number; term: number; members: Members }[] = [];
    try {
      if (rd.snapshot) this.install(rd);
      let members = this.storage.members;
      let lastIdx = 0;
      const applyCommitted = () => {
        for (const e of rd.committedEntries) {
          if (e.index <= this.storage.lastApplied) continue;
          lastIdx = e.index;
          if (e.type === "conf") {
            const cc = decodeConfChange(e.data);
            if (!cc) continue;
            members = nextMembers(members, cc);
            this.storage.setMembersInTx(members);
            confs.push({ cc, index: e.index, term: e.term, members });
            continue;
          }
          const a = this.machine.apply(e);
          if (a) applied.push({ a, term: e.term });
        }
        if (lastIdx > 0) this.storage.setAppliedInTx(lastIdx);
      };
      if (this.knobs?.applyBeforeWrite) {
        this.storage.write(applyCommitted);
        this.settleApplied(rd, confs, applied);
        this.storage.write(() => {}, rd.entries, rd.hardState);
      } else {
        this.storage.write(applyCommitted, rd.entries, rd.hardState);
      }
    } catch (e) {
      this.writeFailed(e);
      return false;
    }

    if (late.length > 0) this.hooks.send(late);
    if (!this.knobs?.applyBeforeWrite) this.settleApplied(rd, confs, applied);
    for (const rs of rd.readStates) {
      const readers = this.readRounds.get(rs.context);
      if (!readers) continue;
      this.readRounds.delete(rs.context);
      this.confirmedReads.push({ index: rs.index, readers });
    }
    this.releaseReads();
    this.maybeCompact();
    return true;
  }

  /** After the apply committed: membership changes to the core, results to the application and the waiting clients. */
  private settleApplied(rd: Ready, confs: { cc: ConfChange; index: number; term: number; members: Members }[], applied: { a: A; term: number }[]): void {
    for (const c of confs) {
      this.node.applyConfChange(c.cc);
      this.hooks.onMembers(c.members);
      this.settle(c.index, c.term, c.members);
    }
    for (const { a, term } of applied) {
      this.hooks.onApplied(a);
      this.settle(a.idx, term, a);
    }
    // Entries applied without a waiter that matched (no-ops, other leaders' entries) end older waits.
    if (rd.committedEntries.length > 0) this.expireWaitersUpTo(this.storage.lastApplied, rd.committedEntries);
  }

  /**
   * Writing a Ready failed (disk full, read-only, I/O error). What it held
   * is not on disk, so the core's view of its log is wrong: it is rebuilt
   * from what is. Writes are refused with the reason until a retry after a
   * backoff succeeds, so a full disk is an error, not a busy loop.
   */
  private writeFailed(e: unknown): void {
    const err = e instanceof StoreError ? e : new StoreError(`cannot apply the log: ${(e as Error).message}`);
    const clustered = this.storage.members.voters.length > 1;
    this.failures++;
    const backoffMs = Math.min(WRITE_RETRY_MS_MAX, WRITE_RETRY_MS_MIN * 2 ** Math.min(10, this.failures - 1));
    if (this.failures === 1) log.error(`${err.message}; restarting the Raft node from what is on disk, retrying every ≤ ${WRITE_RETRY_MS_MAX / 1000} s`);
    this.blocked = new StoreError(`${err.message}${clustered ? " (other masters may still apply the write)" : ""}`, clustered ? "unknown_outcome" : "storage");
    // A write already in the log on disk (written by an earlier Ready) may still be committed and applied after the restart.
    const inLog = clustered ? this.blocked : new StoreError(`${err.message} (the write is in the log and may still be applied)`, "unknown_outcome");
    this.failAll(this.blocked, inLog, this.storage.lastIndex());
    this.node = this.newNode();
    this.timers.after(backoffMs, () => {
      if (this.stopped) return;
      this.blocked = null;
      const voters = this.storage.members.voters;
      if (voters.length === 1 && voters[0] === this.cfg.id) this.node.campaign();
      this.schedule();
    });
  }

  private settle(index: number, term: number, value: A | Members): void {
    const w = this.waiters.get(index);
    if (!w) return;
    this.waiters.delete(index);
    w.cancel();
    if (w.term === term) w.done(null, value);
    else w.done(this.overwritten());
  }

  /** Another leader's entry took the index of ours: ours will never be applied. */
  private overwritten(): StoreError {
    return new StoreError("leadership changed before the write was committed; it was not applied, retry", "not_leader", this.leaderAddr);
  }

  private expireWaitersUpTo(applied: number, committed: Entry[]): void {
    if (this.waiters.size === 0) return;
    let terms: Map<number, number> | null = null;
    for (const [i, w] of this.waiters) {
      if (i > applied) continue;
      this.waiters.delete(i);
      w.cancel();
      terms ??= new Map(committed.map((e) => [e.index, e.term]));
      const t = terms.get(i);
      if (t !== undefined && t !== w.term) w.done(this.overwritten());
      else w.done(new StoreError("the write's outcome is unknown (the state was replaced by a snapshot); check before retrying", "unknown_outcome", this.leaderAddr));
    }
  }

  private releaseReads(): void {
    if (this.confirmedReads.length === 0) return;
    const applied = this.storage.lastApplied;
    const ready = this.confirmedReads.filter((c) => c.index <= applied);
    this.confirmedReads = this.confirmedReads.filter((c) => c.index > applied);
    for (const c of ready) {
      for (const r of c.readers) {
        r.cancel();
        r.done(null);
      }
    }
  }

  private install(rd: Ready): void {
    const snap = rd.snapshot!;
    const path = snap.data;
    if (typeof path !== "string") throw new Error("raft: a snapshot to install came without its database file");
    this.storage.installSnapshotFile(path, snap.meta, rd.hardState ?? this.storage.hardState);
    this.installedSnapshot = path;
    log.info(`installed a snapshot up to entry ${snap.meta.index} (term ${snap.meta.term})`);
    this.hooks.onSnapshotInstalled();
    this.hooks.onMembers(this.storage.members);
  }

  private maybeCompact(): void {
    const applied = this.storage.lastApplied;
    const first = this.storage.firstIndex();
    // Compact in chunks of keepEntries, so it runs once per keepEntries writes, not on every one.
    if (applied - first + 1 < 2 * this.cfg.keepEntries) return;
    try {
      this.storage.compact(applied - this.cfg.keepEntries);
    } catch (e) {
      log.warn(`log compaction failed (will retry): ${(e as Error).message}`);
    }
  }
}

/** Membership after a single-server change. */
export function nextMembers(m: Members, cc: ConfChange): Members {
  const voters = new Set(m.voters);
  const addrs = { ...m.addrs };
  if (cc.type === "add") {
    voters.add(cc.node);
    if (cc.context) addrs[cc.node] = cc.context;
  } else {
    voters.delete(cc.node);
    delete addrs[cc.node];
  }
  return { voters: [...voters].sort((a, b) => a - b), addrs };
}
