/**
 * The driver-level simulation: the RaftDriver that ships
 * (src/master/raft/driver.ts) — the Ready loop, the leader's appends sent
 * before its own write, writes and reads with their timeouts, write
 * failures and the restart from disk, compaction, snapshot installs — run
 * from a seed on a simulated clock, over a simulated network, on a
 * simulated disk with SQLite's transactions and sync modes (db.ts,
 * storage.ts). The core-level simulation (../simulation.ts) checks the
 * algorithm; this one checks what a master does with it.
 *
 * Faults: crashes at any moment and at points of a write (before its
 * transaction — for a leader, that is between sending its appends and
 * writing them —, inside it, after its commit), machine crashes that lose
 * the commits not yet synced, SIGSTOP-like pauses of several election
 * timeouts (the process resumes with its old state and the messages that
 * waited for it), writes slower than an election timeout (the process is
 * blocked in them), failed writes (disk full), partitions, one-way cuts,
 * loss, duplication, delay, leader transfers and forced snapshots. Clients
 * give every write a request id and retry it (like `lava ctl`), and the
 * state machine applies an id once.
 *
 * Checked: the invariants of ../invariants.ts on what each master commits
 * to its disk, that a master applies only entries its disk holds as
 * committed, liveness after the faults heal, and a linearizable history.
 */
import { AnswerRouter } from "../../../src/master/raft/answers.ts";
import { RaftDriver, type DriverTestingKnobs, type DriverTimers } from "../../../src/master/raft/driver.ts";
import { parseRaftMessage } from "../../../src/raft/schema.ts";
import type { Message, NodeId, SoftState } from "../../../src/raft/types.ts";
import { StoreError } from "../../../src/store/index.ts";
import { configureLogging } from "../../../src/log/index.ts";
import { seededRng } from "../../helpers/rng.ts";
import { InvariantViolation } from "../invariants.ts";
import { breakFlag, pickWeighted, SimRun } from "../run-parts.ts";
import { cloneMessage, SimNetwork } from "../network.ts";
import { describe, streamSeed, type SimResult } from "../simulation.ts";
import { Workload, type ClientOp } from "../workload.ts";
import { SimDb } from "./db.ts";
import { encodeKvWrite, KvMachine, type KvApplied } from "./machine.ts";
import { drawDriverParams, type DriverSimParams } from "./params.ts";
import { SimCrash, SimStorage, type SnapshotData, type StorageHooks, type WriteKind } from "./storage.ts";

export type BrokenDriver = Omit<DriverTestingKnobs, "iKnowThisBreaksRaft">;

export interface DriverSimOptions {
  seed: number;
  nodes: number;
  /** Break the driver on purpose (tests that the simulator notices). */
  knobs?: BrokenDriver;
  /** The state machine applies retries again (tests that the checks notice double applies). */
  noDedup?: boolean;
  trace?: (line: string) => void;
  params?: Partial<DriverSimParams>;
  /**
   * Check the Ready contract where it is kept (default on): a master
   * applies only what its disk holds as committed, and an append answer or
   * a granted vote leaves only once what it promises is on disk. Off, only
   * the consequences are checked (Raft's invariants, linearizability): tests
   * of the simulator show those catch a broken driver too.
   */
  contractChecks?: boolean;
}

export function driverReplayCommand(seed: number, nodes: number, knobs?: BrokenDriver): string {
  const broken = breakFlag(knobs);
  return `scripts/sim --driver --seed ${seed} --nodes ${nodes}${broken}`;
}

export function runDriverSimulation(o: DriverSimOptions): SimResult {
  return new DriverSimulation(o).run();
}

/** What travels between masters: one HTTP request's batch, the answers on its response, or a snapshot. */
interface Packet {
  from: NodeId;
  to: NodeId;
  kind: "request" | "answer" | "snapshot";
  msgs: Message[];
  /** A snapshot's "file". */
  path?: string;
}

const clonePacket = (p: Packet): Packet => ({ ...p, msgs: p.msgs.map(cloneMessage) });

type CrashPoint = "before" | "inside" | "after";

/** One client request under way at a master. */
interface Call {
  op: ClientOp;
  c: { target: NodeId };
  life: number;
  open: boolean;
}

/** One simulated master: its disk survives; everything else belongs to one life of its process. */
class SimMaster {
  readonly db = new SimDb();
  life = 0;
  driver: RaftDriver<KvApplied> | null = null;
  storage: SimStorage | null = null;
  router: AnswerRouter | null = null;
  /** The process takes no step before this (SIGSTOP, or blocked in a slow write). */
  frozenUntil = 0;
  clockRate = 1;
  /** Faults planned for its next write. */
  plan: { crash?: CrashPoint; diskError?: boolean; slowMs?: number } = {};
  readonly snapshotsOut = new Set<NodeId>();
  readonly calls = new Set<Call>();
  crashes = 0;
  campaignAtStart = false;

  constructor(readonly id: NodeId) {}
}

const addr = (id: NodeId) => `sim-${id}`;
const idOf = (a: string | null): NodeId => (a && a.startsWith("sim-") ? Number(a.slice(4)) : 0);

class DriverSimulation extends SimRun {
  private readonly p: DriverSimParams;
  private readonly masters = new Map<NodeId, SimMaster>();
  private readonly ids: NodeId[];
  private readonly net: SimNetwork<Packet>;
  private readonly faultRng: () => number;
  private readonly schedRng: () => number;
  private readonly liveRng: () => number;
  private readonly knobs: DriverTestingKnobs | undefined;
  private readonly files = new Map<string, SnapshotData>();
  private fileSeq = 0;
  private sentCount = 0;
  private final: { index: number } | undefined;

  constructor(private readonly o: DriverSimOptions) {
    super(o.trace);
    configureLogging({ level: "silent", format: "pretty" });
    this.p = { ...drawDriverParams(seededRng(streamSeed(o.seed, 101)), o.nodes), ...o.params };
    this.faultRng = seededRng(streamSeed(o.seed, 102));
    this.schedRng = seededRng(streamSeed(o.seed, 103));
    this.liveRng = seededRng(streamSeed(o.seed, 105));
    this.knobs = o.knobs ? { iKnowThisBreaksRaft: true, ...o.knobs } : undefined;
    this.ids = Array.from({ length: o.nodes }, (_, k) => k + 1);
    this.net = new SimNetwork<Packet>(seededRng(streamSeed(o.seed, 104)), this.p.net, (d, fn) => this.q.after(d, fn), (p) => this.arrive(p), clonePacket);
    const driftRng = seededRng(streamSeed(o.seed, 106));
    const founders = { voters: [...this.ids], addrs: Object.fromEntries(this.ids.map((id) => [String(id), addr(id)])) };
    for (const id of this.ids) {
      const m = new SimMaster(id);
      m.clockRate = 1 + (driftRng() * 2 - 1) * this.p.clockDrift;
      // The founders, as Replication bootstraps them (meta.members, outside the log), already on disk.
      m.db.meta.set("members", founders);
      this.masters.set(id, m);
    }
    if (o.nodes > 1 && this.faultRng() < 0.3) this.masters.get(this.ids[Math.floor(this.faultRng() * this.ids.length)]!)!.campaignAtStart = true;
    this.work = new Workload(this, seededRng(streamSeed(o.seed, 107)), this.p.clients, this.p.keys, this.p.opTimeoutMs, true);
  }

  // ---- ClientHost

  members(): NodeId[] {
    return this.ids;
  }
  reachable(id: NodeId): boolean {
    return this.masters.get(id)?.driver != null;
  }

  /** A client's attempt reached master `c.target`: a write through the driver with the op's request id, or a read barrier. */
  submit(op: ClientOp, c: { target: NodeId }): void {
    const m = this.masters.get(c.target)!;
    const call: Call = { op, c, life: m.life, open: true };
    m.calls.add(call);
    op.inFlight++;
    // The client gives up on this attempt after a while (ctl's --timeout) and tries elsewhere.
    this.q.after(this.p.attemptTimeoutMs, () => {
      if (!call.open) return;
      this.closeCall(m, call);
      if (op.kind === "write") op.proposed = true;
      this.count("client attempt timed out");
      this.work.redirect(op, c, 0);
    });
    this.onMaster(m, m.life, () => {
      const d = m.driver!;
      if (op.kind === "write") {
        d.submit(encodeKvWrite(op.key, op.value, `r${op.id}`), (err, a) => this.answered(m, call, err, a));
      } else {
        d.read((err) => this.answered(m, call, err, undefined));
      }
    });
  }

  /** The driver answered a client (synchronously inside one of its calls). */
  private answered(m: SimMaster, call: Call, err: StoreError | null, a: KvApplied | undefined): void {
    if (!call.open || call.life !== m.life) return;
    const { op, c } = call;
    let value: string | null = null;
    if (!err && op.kind === "read") value = m.storage!.db.kv.get(op.key) ?? null;
    // The answer leaves when the process gets round to it (not if it dies first: then the client sees the connection drop).
    this.depart(m, call.life, () => {
      if (!call.open) return;
      this.closeCall(m, call);
      // not_leader (refused, or overwritten by another leader) and a lone master's storage error are definite: not applied.
      const definite = err !== null && (err.code === "not_leader" || err.code === "storage");
      if (op.kind === "write" && !definite) op.proposed = true;
      this.q.after(0.5 + this.schedRng() * 1.5, () => {
        if (!err) {
          if (op.kind === "read") this.work.readServed(op, value);
          else {
            op.index = a!.idx;
            if (a!.duplicateOf !== null) this.count("retry answered with the first outcome");
            this.trace(`client ${op.client} write ${op.key}=${op.value} applied at ${a!.idx}${a!.duplicateOf !== null ? ` (first at ${a!.duplicateOf})` : ""}`);
            this.work.writeApplied(op);
          }
          return;
        }
        this.count(`client ${op.kind} refused: ${err.code}`);
        this.work.redirect(op, c, idOf(err.leader));
      });
    });
  }

  /** Runs `fn` when what `m` does now leaves the process: at once, or once a slow write it is blocked in returns, if it is still alive then. */
  private depart(m: SimMaster, life: number, fn: () => void): void {
    const d = Math.max(0, m.frozenUntil - this.q.now);
    if (d === 0) fn();
    else
      this.q.after(d, () => {
        if (m.life === life) fn();
      });
  }

  private closeCall(m: SimMaster, call: Call): void {
    call.open = false;
    m.calls.delete(call);
    call.op.inFlight--;
  }

  // ---- the run

  run(): SimResult {
    this.trace(`params ${JSON.stringify(this.p)}`);
    for (const m of this.masters.values()) this.start(m);
    this.q.after(this.faultGap(), () => this.faultStep());
    this.q.at(this.p.faultMs, () => this.heal());
    this.work.start();
    this.runToEnd(this.p.faultMs + this.p.livenessMs);
    return this.result();
  }

  private result(): SimResult {
    const nodeDigests = [...this.masters.values()].map((m) => {
      const hs = (m.db.meta.get("raft.hs") as { term: number; vote: number; commit: number } | undefined) ?? { term: 0, vote: 0, commit: 0 };
      return `${m.id}:${hs.term}/${hs.vote}/${hs.commit}/${String(m.db.meta.get("lastApplied") ?? 0)}`;
    });
    const crashes = [...this.masters.values()].reduce((s, m) => s + m.crashes, 0);
    return this.resultOf(this.o.seed, this.o.nodes, driverReplayCommand(this.o.seed, this.o.nodes, this.o.knobs), crashes, nodeDigests);
  }

  /** Runs a check of the invariants; a violation ends the run (even when it happens inside a driver call, which would catch it). */
  private check(fn: () => void): void {
    if (this.failure) return;
    try {
      fn();
    } catch (e) {
      if (!(e instanceof InvariantViolation)) throw e;
      this.failure = `invariant violated: ${e.message}`;
    }
  }

  // ---- a master's process

  /** Runs `fn` as a step of `m`'s process in life `life`: not at all if that life ended, later if the process is frozen. */
  private onMaster(m: SimMaster, life: number, fn: () => void): void {
    if (m.life !== life || !m.driver) return;
    if (this.q.now < m.frozenUntil) {
      this.q.at(m.frozenUntil, () => this.onMaster(m, life, fn));
      return;
    }
    fn();
  }

  private timersFor(m: SimMaster, life: number): DriverTimers {
    return {
      every: (ms, fn) => {
        let on = true;
        const tick = () =>
          this.onMaster(m, life, () => {
            if (!on) return;
            fn();
            this.q.after(ms * m.clockRate, tick);
          });
        this.q.after(ms * m.clockRate, tick);
        return () => {
          on = false;
        };
      },
      after: (ms, fn) => {
        let on = true;
        this.q.after(ms * m.clockRate, () =>
          this.onMaster(m, life, () => {
            if (!on) return;
            on = false;
            fn();
          }),
        );
        return () => {
          on = false;
        };
      },
      soon: (fn) => this.q.after(this.schedRng() * this.p.turnDelayMsMax, () => this.onMaster(m, life, fn)),
    };
  }

  private storageHooks(m: SimMaster, life: number, storage: () => SimStorage): StorageHooks {
    const planned = (w: WriteKind) => w.entries > 0 || w.hardState || w.snapshot || w.applies;
    return {
      beforeWrite: (w) => {
        if (m.life !== life) throw new SimCrash("(the process is dead)");
        if (m.plan.diskError) {
          m.plan.diskError = false;
          this.count("write failed (disk full)");
          this.trace(`master ${m.id}: write fails (disk full)`);
          throw new StoreError("the disk holding lava.db is full (simulated)");
        }
        if (m.plan.crash === "before" && planned(w)) {
          const leader = m.driver?.isLeader ?? false;
          this.crash(m, leader && w.entries > 0 ? "between sending its appends and writing them (leader)" : "before the write's transaction");
          // Sometimes with the leader cut off just after (once what was in flight arrived): what the crashed
          // follower took, if it was counted, must then be found on the remaining members alone.
          if (!leader && w.entries > 0 && this.p.partitions && this.faultRng() < 0.5) this.q.after(this.p.net.delayMsMax + 1, () => this.isolate(this.net, this.ids, this.leader()?.id));
          throw new SimCrash("before the transaction");
        }
      },
      insideWrite: (w) => {
        if (m.plan.crash === "inside" && planned(w)) {
          this.crash(m, "inside the write's transaction (rolled back)");
          throw new SimCrash("inside the transaction");
        }
      },
      afterWrite: (w) => {
        if (m.plan.slowMs && w.sync) {
          m.frozenUntil = Math.max(m.frozenUntil, this.q.now + m.plan.slowMs);
          this.trace(`master ${m.id}: write takes ${m.plan.slowMs.toFixed(0)} ms`);
          this.count("slow write");
          m.plan.slowMs = 0;
        }
        if (m.plan.crash === "after" && planned(w)) this.crash(m, "after the write's commit, before the rest of the Ready");
      },
      committed: (c) =>
        this.check(() => {
          const st = storage();
          const id = m.id;
          if (c.snapshot) {
            this.inv.snapshotInstalled(id, { meta: c.snapshot });
            this.count("snapshot installed");
          }
          if (c.entries.length > 0) this.inv.persisted(id, c.entries, st);
          if (c.commitTo > c.commitFrom) this.inv.commitPersisted(id, c.term, c.commitFrom, c.commitTo, st, (i) => st.entries(i, i + 1, 1)[0]);
          for (let i = c.appliedFrom + 1; i <= c.appliedTo; i++) {
            const e = i >= st.firstIndex() && i <= st.lastIndex() ? st.entries(i, i + 1, 1)[0] : undefined;
            // The Ready contract: what a master applies is on its disk and durably committed there, in the same transaction or before.
            if ((!e || st.hardState.commit < i) && this.o.contractChecks !== false) throw new InvariantViolation("ready contract", `master ${id} applied entry ${i}, but its disk ${e ? `has commit ${st.hardState.commit}` : "does not hold it"}`);
            if (e) this.inv.appliedEntry(id, e);
          }
        }),
    };
  }

  private start(m: SimMaster): void {
    m.life++;
    const life = m.life;
    m.frozenUntil = 0;
    const storage: SimStorage = new SimStorage(m.db, this.storageHooks(m, life, () => storage), (path) => this.files.get(path));
    const machine = new KvMachine(storage, this.p.dedupWindow, !this.o.noDedup);
    const router = new AnswerRouter(m.id, (msgs) => this.transport(m, life, msgs));
    const p = this.p;
    const driver = new RaftDriver<KvApplied>(
      {
        id: m.id,
        tickMs: p.tickMs,
        electionTicks: p.electionTicks,
        heartbeatTicks: p.heartbeatTicks,
        batchSize: p.batchSize,
        maxInflight: p.maxInflight,
        resyncThreshold: p.resyncThreshold,
        keepEntries: p.keepEntries,
        proposalTimeoutMs: p.proposalTimeoutMs,
        rng: seededRng(streamSeed(this.o.seed, 1000 + m.id * 1009 + life)),
        campaignAtStart: m.campaignAtStart && life === 1,
        ...(this.knobs ? { testingKnobs: this.knobs } : {}),
      },
      storage,
      machine,
      {
        send: (msgs) => {
          if (m.life === life) router.route(msgs);
        },
        onApplied: () => {},
        onMembers: () => {},
        onSnapshotInstalled: () => {},
        onSoftState: (s, term) => this.softState(m, life, s, term),
      },
      this.timersFor(m, life),
    );
    m.driver = driver;
    m.storage = storage;
    m.router = router;
    this.trace(`master ${m.id} starts (term ${storage.hardState.term}, log ${storage.firstIndex()}..${storage.lastIndex()}, commit ${storage.hardState.commit}, applied ${storage.lastApplied})`);
    driver.start();
  }

  private softState(m: SimMaster, life: number, s: SoftState, term: number): void {
    if (m.life !== life) return;
    if (s.role === "leader") {
      this.trace(`master ${m.id} is leader of term ${term}`);
      this.check(() => this.inv.leaderSeen(m.id, term, m.storage!));
    } else {
      this.inv.leaderGone(m.id);
    }
  }

  /** The process dies (kill -9, or the machine): what was not committed to its disk is gone; with `powerLoss`, what was not synced too. */
  private crash(m: SimMaster, why: string, powerLoss = false): void {
    if (!m.driver) return;
    this.trace(`master ${m.id} crashes: ${why}`);
    this.count(`crash ${why}`);
    this.inv.leaderGone(m.id);
    m.life++;
    m.driver = null;
    m.storage = null;
    m.router = null;
    m.frozenUntil = 0;
    m.plan = {};
    m.snapshotsOut.clear();
    m.crashes++;
    if (powerLoss) {
      const unsynced = m.db.unsyncedCommits;
      const lost = m.db.powerLoss(Math.floor(this.faultRng() * (unsynced + 1)));
      if (lost > 0) this.count("power loss lost unsynced commits");
      this.trace(`master ${m.id}: power loss, ${lost} of ${unsynced} unsynced commit(s) lost`);
    }
    // Clients with a request under way see the connection drop: the outcome is unknown, they try elsewhere.
    for (const call of [...m.calls]) {
      this.closeCall(m, call);
      if (call.op.kind === "write") call.op.proposed = true;
      this.q.after(0.5 + this.schedRng(), () => this.work.redirect(call.op, call.c, 0));
    }
    const downMs = this.phase === "faults" ? 20 + this.faultRng() * 600 : 5;
    const life = m.life;
    this.q.after(downMs, () => {
      if (m.life === life && !m.driver) this.start(m);
    });
  }

  // ---- the transport

  /** What the driver sends (through the AnswerRouter): one request per peer and stream, snapshots on their own. */
  private transport(m: SimMaster, life: number, msgs: Message[]): void {
    if (m.life !== life) return;
    const votes = new Map<NodeId, Message[]>();
    const rest = new Map<NodeId, Message[]>();
    for (const msg of msgs) {
      this.validate(m, msg);
      if (msg.type === "snapshot") {
        this.sendSnapshot(m, life, msg);
        continue;
      }
      const stream = msg.type === "prevote" || msg.type === "vote" || msg.type === "prevote_resp" || msg.type === "vote_resp" || msg.type === "timeout_now" ? votes : rest;
      const list = stream.get(msg.to);
      if (list) list.push(msg);
      else stream.set(msg.to, [msg]);
    }
    for (const stream of [votes, rest]) for (const [to, batch] of stream) this.sendPacket(m, life, { from: m.id, to, kind: "request", msgs: batch });
  }

  /** Sends a packet when it leaves `m`; `onSent` learns its delivery delay (null: lost or cut). */
  private sendPacket(m: SimMaster, life: number, p: Packet, onSent?: (delay: number | null) => void): void {
    this.depart(m, life, () => {
      if (this.o.contractChecks !== false) this.check(() => this.persistedBeforeSent(m, p));
      for (const msg of p.msgs) this.count(msg.reject ? `${msg.type} (reject)` : msg.type);
      if (this.o.trace) for (const msg of p.msgs) this.trace(`${msg.from}→${msg.to} ${p.kind === "answer" ? "(answer) " : ""}${describe(msg)}`);
      const delay = this.net.send(p);
      if (delay === null && this.net.isBlocked(p.from, p.to)) {
        // A request on a cut link fails (refused, or timed out): the transport tells the core.
        this.q.after(1 + this.schedRng() * 5, () => this.onMaster(m, life, () => m.driver!.reportUnreachable(p.to)));
      }
      onSent?.(delay);
    });
  }

  /** Persist before you send: an append answer or a granted vote leaves only once what it promises is on the sender's disk. */
  private persistedBeforeSent(m: SimMaster, p: Packet): void {
    const st = m.storage!;
    for (const msg of p.msgs) {
      if (msg.reject) continue;
      // (Unless its disk has moved to a later term since: a newer leader may have truncated what it acknowledged to an
      // older one, in the same Ready; the ack was true when made, and a majority that committed those entries would not
      // have elected a leader without them.)
      if (msg.type === "append_resp" && msg.index! > st.lastIndex() && st.hardState.term <= msg.term) {
        throw new InvariantViolation("ready contract", `master ${m.id} acknowledged entries up to ${msg.index} to ${msg.to}, but its disk ends at ${st.lastIndex()}`);
      }
      if (msg.type === "vote_resp") {
        const hs = st.hardState;
        // (A later term on disk is fine: the vote was written, then a newer term replaced it.)
        if (hs.term < msg.term || (hs.term === msg.term && hs.vote !== msg.to)) throw new InvariantViolation("ready contract", `master ${m.id} granted its vote in term ${msg.term} to ${msg.to}, but its disk says term ${hs.term}, vote ${hs.vote}`);
      }
    }
  }

  private validate(m: SimMaster, msg: Message): void {
    if (msg.type !== "snapshot" && this.sentCount++ % 8 !== 0) return;
    const v = parseRaftMessage(msg);
    if (!v.ok) throw new Error(`master ${m.id} sent a message the wire schema refuses (${v.detail}): ${describe(msg)}`);
  }

  /**
   * Like the HTTP transport: a copy of the state as it is now (which may
   * be newer than the snapshot the core picked), one at a time per peer,
   * and the outcome reported to the core.
   */
  private sendSnapshot(m: SimMaster, life: number, msg: Message): void {
    if (m.snapshotsOut.has(msg.to)) return;
    const data = m.storage!.copyState();
    const path = `snap-${++this.fileSeq}`;
    this.files.set(path, data);
    m.snapshotsOut.add(msg.to);
    const meta = { index: data.applied, term: data.appliedTerm, confState: { voters: [...data.members.voters] } };
    const out: Message = { type: "snapshot", from: msg.from, to: msg.to, term: msg.term, snapshot: { meta } };
    let reported = false;
    const report = (ok: boolean) => {
      if (reported) return;
      reported = true;
      this.onMaster(m, life, () => {
        m.snapshotsOut.delete(msg.to);
        m.driver!.reportSnapshot(msg.to, ok);
      });
    };
    this.snapshotReports.set(path, report);
    // Lost on the way (or the receiver gone): the request fails after a timeout.
    this.sendPacket(m, life, { from: m.id, to: msg.to, kind: "snapshot", msgs: [out], path }, (delay) => this.q.after((delay ?? 0) + 100, () => report(false)));
  }

  private readonly snapshotReports = new Map<string, (ok: boolean) => void>();

  private arrive(p: Packet): void {
    const m = this.masters.get(p.to);
    if (!m || !m.driver) return;
    this.onMaster(m, m.life, () => this.handlePacket(m, p));
  }

  private handlePacket(m: SimMaster, p: Packet): void {
    const life = m.life;
    const driver = m.driver!;
    if (p.kind === "answer") {
      for (const msg of p.msgs) if (msg.from === p.from && msg.to === m.id) driver.step(msg);
      return;
    }
    if (p.kind === "snapshot") {
      const msg = p.msgs[0]!;
      const installed = driver.stepSnapshot(msg, p.path!);
      if (installed) this.trace(`master ${m.id} installed snapshot ${msg.snapshot!.meta.index}/${msg.snapshot!.meta.term}`);
      const report = this.snapshotReports.get(p.path!);
      if (m.life === life && report) this.depart(m, life, () => this.q.after(1 + this.schedRng(), () => report(true)));
      return;
    }
    const answers = m.router!.answer(p.from, p.msgs, (mine) => driver.stepAndDrain(mine));
    if (m.life !== life || answers.length === 0) return;
    this.sendPacket(m, life, { from: m.id, to: p.from, kind: "answer", msgs: answers });
  }

  // ---- faults

  private leader(): SimMaster | undefined {
    let best: SimMaster | undefined;
    let bestTerm = -1;
    for (const m of this.masters.values()) {
      if (!m.driver || !m.driver.isLeader) continue;
      const t = m.driver.status().term;
      if (t > bestTerm) {
        best = m;
        bestTerm = t;
      }
    }
    return best;
  }

  private electionMs(): number {
    return this.p.electionTicks * this.p.tickMs;
  }

  private faultGap(): number {
    return this.p.faultEveryMs * (0.2 + 1.6 * this.faultRng());
  }

  private faultStep(): void {
    if (this.phase !== "faults") return;
    const p = this.p;
    const actions: [number, () => void][] = [];
    if (p.partitions) actions.push(...this.networkFaults(this.net, this.ids, this.faultRng, () => this.leader()?.id));
    if (p.crashes) actions.push([3, () => this.randomCrash()]);
    if (p.pauses) actions.push([1, () => this.randomPause()]);
    if (p.slowDisks) actions.push([1, () => this.planFor((m) => (m.plan.slowMs = this.electionMs() * (1 + this.faultRng() * 3)), "a slow write")]);
    if (p.diskErrors) actions.push([1, () => this.planFor((m) => (m.plan.diskError = true), "a failed write")]);
    if (p.transfers) actions.push([2, () => this.transfer()]);
    if (p.forcedSnapshots) actions.push([1, () => this.forceSnapshot()]);
    actions.push([1, () => {}]);
    pickWeighted(actions, this.faultRng);
    this.q.after(this.faultGap(), () => this.faultStep());
  }

  private up(): SimMaster[] {
    return [...this.masters.values()].filter((m) => m.driver);
  }

  /** A master that is up, the leader half of the time (where most of the interesting writes are). */
  private victim(): SimMaster | undefined {
    const l = this.leader();
    if (l && this.faultRng() < 0.5) return l;
    const up = this.up();
    return up.length > 0 ? up[Math.floor(this.faultRng() * up.length)] : undefined;
  }

  private planFor(set: (m: SimMaster) => void, what: string): void {
    const m = this.victim();
    if (!m) return;
    set(m);
    this.trace(`fault: master ${m.id} will have ${what}`);
  }

  private randomCrash(): void {
    const m = this.victim();
    if (!m) return;
    const r = this.faultRng();
    if (this.p.crashPoints && r < 0.6) {
      const points: CrashPoint[] = ["before", "inside", "after"];
      m.plan.crash = points[Math.floor(this.faultRng() * points.length)]!;
      this.trace(`fault: master ${m.id} will crash at its next write (${m.plan.crash})`);
    } else if (this.p.powerLoss && r < 0.8) {
      this.crash(m, "power loss", true);
    } else {
      this.crash(m, "kill -9");
    }
  }

  private randomPause(): void {
    const m = this.victim();
    if (!m) return;
    // SIGSTOP for several election timeouts, then SIGCONT: same state, and what waited for it is delivered.
    m.frozenUntil = Math.max(m.frozenUntil, this.q.now + this.electionMs() * (2 + this.faultRng() * 4));
    this.count("pause");
    this.trace(`fault: master ${m.id} paused until ${m.frozenUntil.toFixed(1)}`);
  }









  /** One of the other masters, drawn from the fault stream. */
  private otherThan(id: NodeId): NodeId {
    const others = this.ids.filter((x) => x !== id);
    return others[Math.floor(this.faultRng() * others.length)]!;
  }

  private transfer(): void {
    const l = this.leader();
    if (!l?.driver) return;
    const to = this.otherThan(l.id);
    try {
      l.driver.transferLeader(to);
      this.trace(`fault: leader ${l.id} transfers to ${to}`);
      this.count("transfer");
    } catch (e) {
      this.trace(`fault: leader ${l.id} cannot transfer to ${to}: ${(e as Error).message}`);
    }
  }

  private forceSnapshot(): void {
    const l = this.leader();
    if (!l?.driver) return;
    const to = this.otherThan(l.id);
    try {
      l.driver.forceSnapshot(to);
      this.trace(`fault: leader ${l.id} forces a snapshot to ${to}`);
    } catch (e) {
      this.trace(`fault: leader ${l.id} cannot force a snapshot to ${to}: ${(e as Error).message}`);
    }
  }

  // ---- healing and liveness

  private heal(): void {
    this.phase = "healing";
    this.healedAt = this.q.now;
    this.trace("heal: network healed and calm, every master restarted, no more faults");
    this.net.heal();
    this.net.profile = { loss: 0, duplicate: 0, delayMsMin: 0.5, delayMsMax: 3, spike: 0, spikeMsMax: 0 };
    for (const m of this.masters.values()) {
      m.plan = {};
      if (!m.driver) this.start(m);
    }
    this.work.stop();
    this.probe();
    this.q.after(50, () => this.healingStep());
  }

  /** One write at a time until one is applied (retried with its request id like any client's). */
  private probe(attempt = 1): void {
    if (this.phase !== "healing" || this.final) return;
    const op = this.work.begin(0, "write", "k0", `final.${attempt}`, 2000);
    op.onEnd = (done: ClientOp) => {
      if (done.status === "ok" && done.index !== undefined) {
        this.final = { index: done.index };
        this.trace(`liveness: final write applied at ${done.index}`);
      } else this.probe(attempt + 1);
    };
    this.work.attempt(op, { target: this.ids[Math.floor(this.liveRng() * this.ids.length)]! });
  }

  private healingStep(): void {
    if (this.phase !== "healing") return;
    if (this.final) {
      const all = [...this.masters.values()];
      if (all.every((m) => m.storage && m.storage.lastApplied >= this.final!.index)) {
        this.trace(`liveness: every master applied ${this.final.index}`);
        this.phase = "done";
        return;
      }
    }
    this.q.after(50, () => this.healingStep());
  }

  protected livenessFailure(): string {
    const lines = [...this.masters.values()].map((m) => {
      if (!m.driver) return `  master ${m.id}: down`;
      const s = m.driver.status();
      return `  master ${m.id}: ${s.role} term ${s.term} leader ${s.leader} commit ${s.commit} applied ${m.storage!.lastApplied} last ${s.lastIndex}${this.q.now < m.frozenUntil ? ` frozen until ${m.frozenUntil.toFixed(0)}` : ""}`;
    });
    const what = this.final ? `not every master applied the final write (index ${this.final.index})` : "no write was applied";
    return `liveness: ${what} within ${this.p.livenessMs} ms after the faults healed (at ${this.healedAt.toFixed(0)} ms)\n${lines.join("\n")}`;
  }
}
