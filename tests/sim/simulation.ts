/**
 * The deterministic cluster simulation (TigerBeetle's VOPR, etcd's
 * network tests): one seed drives a cluster of RawNodes over a faulty
 * simulated network, with crashes (some in the middle of persisting a
 * Ready), restarts, pauses, partitions, membership changes and leader
 * transfers, under a client workload. Safety is checked as the run goes
 * (invariants.ts); at the end the faults heal and the cluster must elect
 * a leader, commit a write and bring every member up to it in bounded
 * time; then the clients' history must be linearizable.
 *
 * Everything comes from the seed: the same seed replays the same run
 * (`scripts/sim --seed S --nodes N`).
 */
import { decodeConfChange } from "../../src/raft/confchange.ts";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import { RawNode } from "../../src/raft/node.ts";
import { parseRaftMessage } from "../../src/raft/schema.ts";
import type { ConfChange, ConfState, Message, NodeId, RaftStorage, RaftTestingKnobs, Ready } from "../../src/raft/types.ts";
import { seededRng } from "../helpers/rng.ts";
import { InvariantViolation } from "./invariants.ts";
import { breakFlag, pickWeighted, SimRun } from "./run-parts.ts";
import { encodeWrite, KvStore } from "./kv.ts";
import { SimNetwork } from "./network.ts";
import { drawParams, type SimParams } from "./params.ts";
import { SimNode, type TornCrash } from "./sim-node.ts";
import { Workload, type ClientOp, type WorkloadStats } from "./workload.ts";

export type BrokenKnobs = Omit<RaftTestingKnobs, "iKnowThisBreaksRaft">;

export interface SimOptions {
  seed: number;
  nodes: number;
  /** Break the core on purpose (tests that the simulator notices). */
  knobs?: BrokenKnobs;
  /** Every event worth reading, for a replay. */
  trace?: (line: string) => void;
  /** Overrides of what the seed draws (tests of the simulator itself). */
  params?: Partial<SimParams>;
  /**
   * Check the messages the core sends against the wire schema: "all", or
   * (the default) every snapshot and one message in 8, which costs little
   * and still sees every kind of message many times a run.
   */
  validateMessages?: "all" | "sampled" | "off";
}

export interface SimResult {
  seed: number;
  nodes: number;
  ok: boolean;
  failure?: string;
  replay: string;
  simMs: number;
  events: number;
  elections: number;
  committed: number;
  crashes: number;
  workload: WorkloadStats;
  /** What the run exercised: messages sent by type, and notable events. */
  coverage: Record<string, number>;
  /** Equal for two runs of one seed (determinism). */
  digest: string;
}

export function replayCommand(seed: number, nodes: number, knobs?: BrokenKnobs): string {
  const broken = breakFlag(knobs);
  return `scripts/sim --seed ${seed} --nodes ${nodes}${broken}`;
}

/** An independent stream per purpose, so that a change in one does not reshuffle the others. */
export function streamSeed(seed: number, stream: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export function runSimulation(o: SimOptions): SimResult {
  return new Simulation(o).run();
}

type Membership =
  | { kind: "idle"; until: number }
  /** `after`: the leader's last index when the change began; older conf entries are history. */
  | { kind: "removing"; victim: NodeId; after: number }
  | { kind: "adding"; victim: NodeId; newcomer: NodeId; started: boolean; after: number };

class Simulation extends SimRun {
  private readonly p: SimParams;
  /** Every node id ever started (a machine added back gets a new one). */
  private readonly ids: NodeId[];
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly net: SimNetwork;
  private readonly faultRng: () => number;
  private readonly schedRng: () => number;
  private readonly liveRng: () => number;
  private readonly knobs: RaftTestingKnobs | undefined;
  private readonly validate: "all" | "sampled" | "off";
  private sentCount = 0;
  private membership: Membership = { kind: "idle", until: 0 };
  private final: { index: number } | undefined;

  constructor(private readonly o: SimOptions) {
    super(o.trace);
    this.p = { ...drawParams(seededRng(streamSeed(o.seed, 1)), o.nodes), ...o.params };
    this.faultRng = seededRng(streamSeed(o.seed, 2));
    this.schedRng = seededRng(streamSeed(o.seed, 3));
    this.liveRng = seededRng(streamSeed(o.seed, 5));
    this.knobs = o.knobs ? { iKnowThisBreaksRaft: true, ...o.knobs } : undefined;
    this.validate = o.validateMessages ?? "sampled";
    this.ids = Array.from({ length: o.nodes }, (_, k) => k + 1);
    this.net = new SimNetwork(seededRng(streamSeed(o.seed, 4)), this.p.net, (d, fn) => this.q.after(d, fn), (m) => this.arrive(m));
    const driftRng = seededRng(streamSeed(o.seed, 6));
    for (const id of this.ids) {
      // The founders are conf entries 1..n of every founder's log (a member added back
      // empty learns them by replaying the log).
      const st = new MemoryStorage();
      st.bootstrap(this.ids);
      const n = new SimNode(id, st);
      n.clockRate = 1 + (driftRng() * 2 - 1) * this.p.clockDrift;
      this.nodes.set(id, n);
    }
    this.work = new Workload(this, seededRng(streamSeed(o.seed, 7)), this.p.clients, this.p.keys, this.p.opTimeoutMs);
  }

  // ---- ClientHost

  reachable(id: NodeId): boolean {
    const n = this.nodes.get(id);
    return !!n && !!n.raw && !n.removed;
  }
  /** A client's attempt: a proposal or a read index on the node (reachable, checked by the workload). */
  submit(op: ClientOp, c: { target: NodeId }): void {
    const n = this.nodes.get(c.target)!;
    const raw = n.raw!;
    if (op.kind === "write") {
      const r = raw.propose(encodeWrite(op.key, op.value));
      this.kick(n);
      if (r.ok) {
        op.index = r.index;
        op.proposed = true;
        n.writes.set(r.index, { term: r.term, op });
        this.trace(`client ${op.client} write ${op.key}=${op.value} proposed on ${n.id} at ${r.index}/${r.term}`);
        return;
      }
      this.work.refused(op, c, r);
    } else {
      const ctx = `${op.id}.${op.attempts}`;
      const r = raw.readIndex(ctx);
      this.kick(n);
      if (r.ok) {
        n.reads.set(ctx, op);
        return;
      }
      this.work.refused(op, c, r);
    }
  }
  members(): NodeId[] {
    return this.ids.filter((id) => !this.nodes.get(id)!.removed);
  }

  kick(n: SimNode): void {
    if (n.readyScheduled || !n.raw || !n.raw.hasReady()) return;
    n.readyScheduled = true;
    const life = n.life;
    this.q.after(this.schedRng() * this.p.readyDelayMsMax, () => {
      if (n.life !== life) return;
      n.readyScheduled = false;
      this.handleReady(n);
    });
  }

  // ---- the run

  run(): SimResult {
    this.trace(`params ${JSON.stringify(this.p)}`);
    for (const n of this.nodes.values()) {
      const st = n.storage;
      const boot = st.entries(1, st.lastIndex() + 1, Infinity);
      this.inv.persisted(n.id, boot, st);
      this.inv.commitPersisted(n.id, st.hardState.term, 0, st.hardState.commit, st, (i) => st.entries(i, i + 1, 1)[0]);
    }
    for (const n of this.nodes.values()) this.start(n);
    if (this.faultRng() < 0.3) {
      // The bootstrap hint (LAVA_IS_LEADER): one node campaigns at once.
      const hinted = this.nodes.get(this.ids[Math.floor(this.faultRng() * this.ids.length)]!)!;
      this.q.after(3 * this.p.readyDelayMsMax + 1, () => {
        hinted.raw?.campaign();
        if (hinted.raw) this.kick(hinted);
      });
    }
    this.q.after(this.faultGap(), () => this.faultStep());
    this.q.at(this.p.faultMs, () => this.heal());
    this.work.start();
    this.runToEnd(this.p.faultMs + this.p.livenessMs);
    return this.result();
  }

  private result(): SimResult {
    const nodeDigests = [...this.nodes.values()].map((n) => {
      const hs = n.storage.hardState;
      return `${n.id}:${hs.term}/${hs.vote}/${hs.commit}/${n.storage.lastIndex()}/${n.kv.applied}`;
    });
    const crashes = [...this.nodes.values()].reduce((s, n) => s + n.crashes, 0);
    return this.resultOf(this.o.seed, this.o.nodes, replayCommand(this.o.seed, this.o.nodes, this.o.knobs), crashes, nodeDigests);
  }

  // ---- nodes

  private start(n: SimNode): void {
    n.dropVolatile();
    const snap = n.storage.snapshot();
    n.kv = KvStore.fromSnapshot(snap);
    // Half the restarts rebuild the state machine from the snapshot and let the core hand
    // out the committed entries again; the others replay the committed log themselves
    // first, like lava, whose state survives a restart: cfg.applied is then past the
    // snapshot, and the storage reports the configuration as of that index.
    let storage: RaftStorage = n.storage;
    if (this.schedRng() < 0.5) {
      const st = n.storage;
      for (let i = snap.meta.index + 1; i <= st.hardState.commit; i++) {
        const e = st.entries(i, i + 1, 1)[0]!;
        this.inv.appliedEntry(n.id, e);
        n.kv.apply(e);
        const cc = e.type === "conf" ? decodeConfChange(e.data) : undefined;
        if (cc) n.kv.conf = confAfter(n.kv.conf, cc);
      }
      const conf = { voters: [...n.kv.conf.voters] };
      storage = {
        initialState: () => ({ hardState: st.hardState, confState: conf }),
        entries: (lo, hi, max) => st.entries(lo, hi, max),
        term: (i) => st.term(i),
        firstIndex: () => st.firstIndex(),
        lastIndex: () => st.lastIndex(),
        snapshot: () => st.snapshot(),
      };
    }
    const p = this.p;
    n.raw = new RawNode({
      id: n.id,
      storage,
      electionTick: p.electionTick,
      heartbeatTick: p.heartbeatTick,
      maxEntriesPerMsg: p.maxEntriesPerMsg,
      maxInflightMsgs: p.maxInflightMsgs,
      resyncThreshold: p.resyncThreshold,
      maxCommittedPerReady: p.maxCommittedPerReady,
      preVote: p.preVote,
      checkQuorum: p.checkQuorum,
      commitBroadcast: p.commitBroadcast,
      rng: seededRng(streamSeed(this.o.seed, 1000 + n.id * 1009 + n.life)),
      applied: n.kv.applied,
      ...(this.knobs ? { testingKnobs: this.knobs } : {}),
    });
    this.trace(`node ${n.id} starts (term ${n.storage.hardState.term}, log ${n.storage.firstIndex()}..${n.storage.lastIndex()}, commit ${n.storage.hardState.commit})`);
    this.scheduleTick(n);
    this.kick(n);
  }

  private scheduleTick(n: SimNode): void {
    const life = n.life;
    this.q.after(this.p.tickMs * n.clockRate, () => {
      if (n.life !== life || !n.raw) return;
      // A paused node's clock is frozen too (a stopped VM, a long GC pause).
      if (this.q.now >= n.pausedUntil) {
        n.raw.tick();
        this.kick(n);
      }
      this.scheduleTick(n);
    });
  }

  private crash(n: SimNode, why: string): void {
    if (!n.raw) return;
    this.trace(`node ${n.id} crashes: ${why}`);
    this.count(`crash ${why.split(" ")[0]}`);
    this.inv.leaderGone(n.id);
    n.dropVolatile();
    n.crashes++;
    if (n.removed) return;
    const downMs = this.phase === "faults" ? 20 + this.faultRng() * 600 : 5;
    const life = n.life;
    this.q.after(downMs, () => {
      if (n.life === life && !n.raw && !n.removed) this.start(n);
    });
  }

  private arrive(m: Message): void {
    const n = this.nodes.get(m.to);
    if (!n || !n.raw) return;
    if (this.q.now < n.pausedUntil) {
      const life = n.life;
      this.q.at(n.pausedUntil, () => {
        if (n.life === life) this.arrive(m);
      });
      return;
    }
    if (this.o.trace) this.trace(`${m.from}→${m.to} ${describe(m)}`);
    n.raw.step(m);
    this.kick(n);
  }

  /** The Ready contract, in its order, with crash points between the steps. */
  private handleReady(n: SimNode): void {
    const raw = n.raw;
    if (!raw) return;
    if (this.q.now < n.pausedUntil) {
      n.readyScheduled = true;
      const life = n.life;
      this.q.at(n.pausedUntil, () => {
        if (n.life !== life) return;
        n.readyScheduled = false;
        this.handleReady(n);
      });
      return;
    }
    if (!raw.hasReady()) return;
    const rd = raw.ready();
    const torn = n.tornCrash;
    if (torn === "before_fsync" && (rd.entries.length > 0 || rd.hardState || rd.snapshot)) {
      this.crash(n, "before fsync (this Ready's writes are lost)");
      return;
    }
    this.persist(n, rd);
    if (torn === "after_fsync") {
      this.crash(n, "after fsync, before sending");
      return;
    }
    for (const m of rd.messages) this.send(n, m);
    if (torn === "after_send") {
      this.crash(n, "after sending, before applying");
      return;
    }
    this.apply(n, rd);
    raw.advance(rd);
    this.maybeSnapshot(n);
    this.kick(n);
  }

  private persist(n: SimNode, rd: Ready): void {
    const st = n.storage;
    const oldCommit = st.hardState.commit;
    if (rd.snapshot) {
      st.applySnapshot(rd.snapshot);
      this.inv.snapshotInstalled(n.id, rd.snapshot);
      this.count("snapshot installed");
      this.trace(`node ${n.id} installs snapshot ${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`);
    }
    if (rd.entries.length > 0) {
      st.append(rd.entries);
      this.inv.persisted(n.id, rd.entries, st);
    }
    if (rd.hardState) st.setHardState(rd.hardState);
    const hs = st.hardState;
    if (hs.commit > oldCommit) this.inv.commitPersisted(n.id, hs.term, oldCommit, hs.commit, st, (i) => st.entries(i, i + 1, 1)[0]);
    if (rd.softState) {
      if (rd.softState.role === "leader") {
        this.trace(`node ${n.id} is leader of term ${hs.term}`);
        this.inv.leaderSeen(n.id, hs.term, st);
      } else {
        this.inv.leaderGone(n.id);
      }
    }
  }

  private send(n: SimNode, m: Message): void {
    const check = this.validate === "all" || (this.validate === "sampled" && (m.type === "snapshot" || this.sentCount++ % 8 === 0));
    if (check) {
      const v = parseRaftMessage(m);
      if (!v.ok) throw new Error(`node ${n.id} sent a message the wire schema refuses (${v.detail}): ${describe(m)}`);
    }
    this.count(m.reject ? `${m.type} (reject)` : m.type);
    if (m.type === "snapshot" && m.snapshot && n.kv.applied > m.snapshot.meta.index && this.schedRng() < 0.5) {
      // Like lava's transport, which streams the database as it is now: a fresher
      // snapshot than the one the core picked (the follower answers with its index).
      m = { ...m, snapshot: { meta: { index: n.kv.applied, term: n.kv.appliedTerm, confState: { voters: [...n.kv.conf.voters] } }, data: n.kv.snapshotData() } };
      this.count("snapshot refreshed by the transport");
    }
    const delay = this.net.send(m);
    if (delay === null && this.net.isBlocked(m.from, m.to) && n.raw) {
      // A transport notices a link that refuses connections (a lost datagram it does not).
      n.raw.reportUnreachable(m.to);
    }
    if (m.type === "snapshot") {
      // The transport tells the sender how the snapshot's delivery went.
      const life = n.life;
      this.q.after((delay ?? this.net.maxDelayMs()) + 1, () => {
        if (n.life !== life || !n.raw) return;
        n.raw.reportSnapshot(m.to, delay !== null);
        this.kick(n);
      });
    }
  }

  private apply(n: SimNode, rd: Ready): void {
    const raw = n.raw!;
    if (rd.snapshot) {
      n.kv = KvStore.fromSnapshot(rd.snapshot);
      // Outcomes hidden in the snapshot stay unknown to their clients.
      for (const i of [...n.writes.keys()]) if (i <= rd.snapshot.meta.index) n.writes.delete(i);
    }
    const st = n.storage;
    for (const e of rd.committedEntries) {
      // The Ready contract: what is applied is already on this node's disk, committed.
      if (st.term(e.index) !== e.term || st.hardState.commit < e.index) {
        throw new InvariantViolation("ready contract", `node ${n.id} was handed entry ${e.index} (term ${e.term}) to apply, but its disk has ${st.term(e.index) === undefined ? "no such entry" : `term ${st.term(e.index)}`} and commit ${st.hardState.commit}`);
      }
      this.inv.appliedEntry(n.id, e);
      n.kv.apply(e);
      if (e.type === "conf") {
        const cc = decodeConfChange(e.data);
        if (cc) {
          n.kv.conf = raw.applyConfChange(cc);
          this.trace(`node ${n.id} applies ${cc.type} ${cc.node} at ${e.index}: voters ${n.kv.conf.voters.join(",")}`);
          if (e.index > this.p.nodes) this.count(`conf ${cc.type} applied`);
          this.confApplied(cc, e.index);
        }
      }
      const w = n.writes.get(e.index);
      if (w) {
        n.writes.delete(e.index);
        if (w.term === e.term) this.work.writeApplied(w.op);
        else this.work.writeLost(w.op);
      }
    }
    for (const rs of rd.readStates) {
      if (n.reads.has(rs.context)) n.readWaits.push(rs);
      this.count(raw.status().role === "leader" ? "read state (leader)" : "read state (follower)");
    }
    if (n.readWaits.length > 0) {
      const still = [];
      for (const rs of n.readWaits) {
        const op = n.reads.get(rs.context);
        if (!op) continue;
        if (rs.index <= n.kv.applied) {
          n.reads.delete(rs.context);
          this.work.readServed(op, n.kv.get(op.key));
        } else still.push(rs);
      }
      n.readWaits = still;
    }
  }

  private maybeSnapshot(n: SimNode): void {
    const every = this.p.snapshotEvery;
    if (every === 0) return;
    const st = n.storage;
    if (n.kv.applied - st.snapshot().meta.index < every) return;
    st.createSnapshot(n.kv.applied, n.kv.conf, n.kv.snapshotData());
    const to = n.kv.applied - this.p.compactKeep;
    if (to >= st.firstIndex()) st.compact(to);
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      if (!n.raw) continue;
      const s = n.raw.status();
      if (s.role === "leader" && s.term > bestTerm) {
        best = n;
        bestTerm = s.term;
      }
    }
    return best;
  }

  // ---- faults

  private faultGap(): number {
    return this.p.faultEveryMs * (0.2 + 1.6 * this.faultRng());
  }

  private faultStep(): void {
    if (this.phase !== "faults") return;
    const p = this.p;
    const r = this.faultRng;
    const actions: [number, () => void][] = [];
    if (p.partitions) actions.push(...this.networkFaults(this.net, this.ids, this.faultRng, () => this.leader()?.id));
    if (p.crashes) actions.push([3, () => this.randomCrash()]);
    if (p.pauses) actions.push([1, () => this.randomPause()]);
    if (p.transfers) actions.push([2, () => this.transfer()]);
    if (p.forcedSnapshots) actions.push([1, () => this.forceSnapshot()]);
    if (p.membership) actions.push([3, () => this.membershipStep()]);
    actions.push([1, () => {}]);
    pickWeighted(actions, r);
    this.q.after(this.faultGap(), () => this.faultStep());
  }









  private randomCrash(): void {
    const up = [...this.nodes.values()].filter((n) => n.raw && !n.removed);
    if (up.length === 0) return;
    const n = up[Math.floor(this.faultRng() * up.length)]!;
    if (this.p.tornCrashes && this.faultRng() < 0.6) {
      const points: TornCrash[] = ["before_fsync", "after_fsync", "after_send"];
      n.tornCrash = points[Math.floor(this.faultRng() * points.length)]!;
      this.trace(`fault: node ${n.id} will crash at its next Ready (${n.tornCrash})`);
    } else {
      this.crash(n, "fault");
    }
  }

  private randomPause(): void {
    const up = [...this.nodes.values()].filter((n) => n.raw);
    if (up.length === 0) return;
    const n = up[Math.floor(this.faultRng() * up.length)]!;
    n.pausedUntil = this.q.now + 50 + this.faultRng() * 400;
    this.trace(`fault: node ${n.id} paused until ${n.pausedUntil.toFixed(1)}`);
  }

  private transfer(): void {
    const l = this.leader();
    if (!l?.raw) return;
    const others = l.raw.status().voters.filter((v) => v !== l.id);
    if (others.length === 0) return;
    const to = others[Math.floor(this.faultRng() * others.length)]!;
    const r = l.raw.transferLeader(to);
    this.trace(`fault: leader ${l.id} transfers to ${to}: ${r.ok ? "ok" : r.error}`);
    this.kick(l);
  }

  private forceSnapshot(): void {
    const l = this.leader();
    if (!l?.raw) return;
    const others = l.raw.status().voters.filter((v) => v !== l.id);
    if (others.length === 0) return;
    const to = others[Math.floor(this.faultRng() * others.length)]!;
    const r = l.raw.forceSnapshot(to);
    this.trace(`fault: leader ${l.id} forces a snapshot to ${to}: ${r.ok ? "ok" : r.error}`);
    this.kick(l);
  }

  // ---- membership: remove a member, then add its machine back with an empty disk

  /**
   * The machine comes back under a fresh id, never its old one: with an
   * empty disk it has forgotten its votes and its log, and replaying the
   * log it would pass through old configurations that count it (the
   * founders' entries even make it a cluster of one for a moment). etcd
   * never re-uses ids for the same reason; docs/raft.md tells operators.
   */
  private membershipStep(): void {
    const m = this.membership;
    const l = this.leader();
    const voters = l?.raw?.status().voters ?? [];
    switch (m.kind) {
      case "idle": {
        if (!l?.raw || this.q.now < m.until || voters.length < 3) return;
        const victim = voters[Math.floor(this.faultRng() * voters.length)]!;
        this.membership = { kind: "removing", victim, after: l.raw.status().lastIndex };
        this.trace(`membership: removing ${victim}`);
        this.membershipStep();
        return;
      }
      case "removing":
        if (l?.raw && voters.includes(m.victim)) this.propose(l, { type: "remove", node: m.victim });
        return;
      case "adding": {
        if (!l?.raw || voters.includes(m.newcomer)) return;
        const r = this.propose(l, { type: "add", node: m.newcomer, context: `sim-${m.newcomer}` });
        if (r && !m.started) {
          const n = new SimNode(m.newcomer, new MemoryStorage());
          n.clockRate = this.nodes.get(m.victim)!.clockRate;
          this.nodes.set(n.id, n);
          this.ids.push(n.id);
          m.started = true;
          this.trace(`membership: node ${n.id} (the machine of ${m.victim}) starts empty`);
          this.start(n);
        }
        return;
      }
    }
  }

  private propose(l: SimNode, cc: ConfChange): boolean {
    const r = l.raw!.proposeConfChange(cc);
    this.kick(l);
    this.trace(`membership: ${cc.type} ${cc.node} on leader ${l.id}: ${r.ok ? `proposed at ${r.index}` : r.error}`);
    return r.ok;
  }

  /** Some node applied a conf change at `index` (so it is committed). */
  private confApplied(cc: ConfChange, index: number): void {
    const m = this.membership;
    if (m.kind === "removing" && cc.type === "remove" && cc.node === m.victim && index > m.after) {
      this.membership = { kind: "adding", victim: m.victim, newcomer: Math.max(...this.ids) + 1, started: false, after: index };
      const victim = this.nodes.get(m.victim)!;
      // The operator stops the removed master (not inside its own Ready: an event of its own).
      this.q.after(0, () => {
        victim.removed = true;
        if (victim.raw) this.crash(victim, "removed from the cluster, stopped");
      });
    } else if (m.kind === "adding" && m.started && cc.type === "add" && cc.node === m.newcomer && index > m.after) {
      this.membership = { kind: "idle", until: this.q.now + 300 };
    }
  }

  // ---- healing and liveness

  private heal(): void {
    this.phase = "healing";
    this.healedAt = this.q.now;
    this.trace("heal: network healed and calm, every member restarted");
    this.net.heal();
    this.net.profile = { loss: 0, duplicate: 0, delayMsMin: 0.5, delayMsMax: 3, spike: 0, spikeMsMax: 0 };
    for (const n of this.nodes.values()) {
      n.tornCrash = null;
      if (!n.raw && !n.removed) this.start(n);
    }
    this.work.stop();
    this.probe();
    this.q.after(50, () => this.healingStep());
  }

  /** The liveness probe: one write at a time until one commits (a lost proposal is retried as a new write). */
  private probe(attempt = 1): void {
    if (this.phase !== "healing" || this.final) return;
    const op = this.work.begin(0, "write", "k0", `final.${attempt}`, 1000);
    const target = { target: this.members()[Math.floor(this.liveRng() * this.members().length)]! };
    op.onEnd = (done: ClientOp) => {
      if (done.status === "ok" && done.index !== undefined) {
        this.final = { index: done.index };
        this.trace(`liveness: final write committed at ${done.index}`);
      } else {
        this.probe(attempt + 1);
      }
    };
    this.work.attempt(op, target);
  }

  private healingStep(): void {
    if (this.phase !== "healing") return;
    if (this.p.membership && this.membership.kind !== "idle") this.membershipStep();
    if (this.final) {
      const l = this.leader();
      const voters = l?.raw?.status().voters;
      if (voters && voters.every((v) => (this.nodes.get(v)?.kv.applied ?? 0) >= this.final!.index)) {
        this.trace(`liveness: every voter (${voters.join(",")}) applied ${this.final.index}`);
        this.phase = "done";
        return;
      }
    }
    this.q.after(50, () => this.healingStep());
  }

  protected livenessFailure(): string {
    const lines = [...this.nodes.values()].map((n) => {
      if (!n.raw) return `  node ${n.id}: down${n.removed ? " (removed)" : ""}`;
      const s = n.raw.status();
      return `  node ${n.id}: ${s.role} term ${s.term} leader ${s.leader} commit ${s.commit} applied ${n.kv.applied} last ${s.lastIndex} voters ${s.voters.join(",")}`;
    });
    const what = this.final ? `not every voter applied the final write (index ${this.final.index})` : "no write committed";
    return `liveness: ${what} within ${this.p.livenessMs} ms after the faults healed (at ${this.healedAt.toFixed(0)} ms); membership ${this.membership.kind}\n${lines.join("\n")}`;
  }
}

/** The voters after a conf change (what RawNode.applyConfChange computes). */
function confAfter(c: ConfState, cc: ConfChange): ConfState {
  const voters = new Set(c.voters);
  if (cc.type === "add") voters.add(cc.node);
  else voters.delete(cc.node);
  return { voters: [...voters].sort((a, b) => a - b) };
}

/** One line per message, for traces. */
export function describe(m: Message): string {
  const parts: string[] = [m.type, `t${m.term}`];
  if (m.index !== undefined) parts.push(`i${m.index}`);
  if (m.logTerm !== undefined) parts.push(`lt${m.logTerm}`);
  if (m.entries && m.entries.length > 0) parts.push(`[${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]`);
  if (m.commit !== undefined) parts.push(`c${m.commit}`);
  if (m.reject) parts.push(`reject hint ${m.rejectHint ?? "-"}`);
  if (m.context) parts.push(`ctx ${m.context}`);
  if (m.snapshot) parts.push(`snap ${m.snapshot.meta.index}/${m.snapshot.meta.term}`);
  return parts.join(" ");
}
