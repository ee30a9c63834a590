/**
 * RawNode: the Raft state machine (roles, terms, votes, replication,
 * commit, snapshots, read index, membership, leader transfer) behind the
 * RaftNode interface of types.ts. It follows etcd-io/raft's design: no I/O,
 * no clock (tick()), no randomness of its own (cfg.rng), and everything it
 * wants done comes out of ready().
 *
 * Section numbers (§) are the Raft paper's, "dissertation §" Ongaro's thesis.
 */
import { encodeConfChange, isNodeId, MAX_CONF_CONTEXT_CHARS } from "./confchange.ts";
import { isNat, wellFormed, wellFormedEntries, wellFormedSnapshot } from "./checks.ts";
import { RaftLog } from "./log.ts";
import { Progress, quorum, quorumIndex } from "./progress.ts";
import { ReadIndexQueue } from "./read-index.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ProposeError,
  ProposeResult,
  RaftConfig,
  RaftNode,
  RaftStatus,
  RaftTestingKnobs,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SoftState,
} from "./types.ts";

export const DEFAULT_MAX_COMMITTED_PER_READY = 1000;
export const DEFAULT_MAX_UNCOMMITTED_ENTRIES = 10_000;
export const DEFAULT_MAX_PENDING_READS = 1024;
/** An application's read context is an id, not a payload. */
export const MAX_READ_CONTEXT_CHARS = 1024;
/** Context of a vote request forced by timeout_now: voters ignore their leader lease for it. */
export const TRANSFER_CONTEXT = "transfer";
/** A node this far behind in applying does not campaign (it may hold unapplied conf changes; scanning would cost). */
const UNAPPLIED_SCAN_MAX = 10_000;

type Failure = { ok: false } & ProposeError;

export class RawNode implements RaftNode {
  readonly id: NodeId;
  private readonly log: RaftLog;
  private readonly electionTick: number;
  private readonly heartbeatTick: number;
  private readonly maxEntriesPerMsg: number;
  private readonly maxInflight: number;
  private readonly resyncThreshold: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly rng: () => number;
  private readonly maxCommittedPerReady: number;
  private readonly maxUncommitted: number;
  private readonly maxPendingReads: number;
  private readonly commitBroadcast: boolean;
  private readonly knobs: RaftTestingKnobs | undefined;

  private term = 0;
  private vote: NodeId = 0;
  private lead: NodeId = 0;
  private role: Role = "follower";
  private voterSet = new Set<NodeId>();
  /** Sorted, so that every loop over peers is in the same order on every run. */
  private voterList: NodeId[] = [];

  /** Leader only: one per voter (this node included). */
  private prs = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId = 0;
  /** Leader: index of the latest conf entry it may not have applied; a new change waits until applied >= it. */
  private pendingConfIndex = 0;
  private reads = new ReadIndexQueue();
  /** Leader: reads that arrived before it committed an entry of its term (§6.4 makes them wait). */
  private readsBeforeCommit: { from: NodeId; context: string }[] = [];

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevSoft: SoftState;
  private prevHard: HardState;
  private readyOut = false;

  constructor(cfg: RaftConfig) {
    checkConfig(cfg);
    this.id = cfg.id;
    this.electionTick = cfg.electionTick;
    this.heartbeatTick = cfg.heartbeatTick;
    this.maxEntriesPerMsg = cfg.maxEntriesPerMsg;
    this.maxInflight = cfg.maxInflightMsgs;
    this.resyncThreshold = cfg.resyncThreshold;
    this.preVote = cfg.preVote;
    this.checkQuorum = cfg.checkQuorum;
    this.rng = cfg.rng;
    this.maxCommittedPerReady = cfg.maxCommittedPerReady ?? DEFAULT_MAX_COMMITTED_PER_READY;
    this.maxUncommitted = cfg.maxUncommittedEntries ?? DEFAULT_MAX_UNCOMMITTED_ENTRIES;
    this.maxPendingReads = cfg.maxPendingReads ?? DEFAULT_MAX_PENDING_READS;
    this.commitBroadcast = cfg.commitBroadcast ?? true;
    this.knobs = cfg.testingKnobs;

    this.log = new RaftLog(cfg.storage);
    const { hardState, confState } = cfg.storage.initialState();
    const last = this.log.lastIndex();
    if (hardState.commit > last) {
      throw new Error(`RawNode: the stored commit index ${hardState.commit} is past the stored log (last index ${last}); the storage lost entries it had acknowledged`);
    }
    if (cfg.applied > last) {
      throw new Error(`RawNode: cfg.applied ${cfg.applied} is past the stored log (last index ${last}); pass the state machine's last applied index`);
    }
    // What was applied was committed: the hard state may lag (it is written with the entries, applied later).
    this.log.commitTo(Math.max(hardState.commit, cfg.applied));
    this.log.appliedTo(Math.max(cfg.applied, this.log.firstIndex() - 1));
    this.setVoters(confState.voters);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, 0);
    this.prevSoft = { leader: 0, role: "follower" };
    this.prevHard = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
  }

  // ---- driving the node

  tick(): void {
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  step(m: Message): void {
    if (!wellFormed(m, this.id)) return;
    if (m.term === 0 && (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot" || m.type === "timeout_now")) return;

    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "prevote") {
        const forced = m.context === TRANSFER_CONTEXT;
        // Leader lease (dissertation §4.2.3): while we hear from a leader, a node that
        // lost touch (and only it) cannot depose it. timeout_now-forced campaigns pass.
        const inLease = this.checkQuorum && this.lead !== 0 && this.electionElapsed < this.electionTick;
        if (!forced && inLease) return;
      }
      if (m.type === "prevote") {
        // A pre-vote asks about a term nobody is in yet: our term stays.
      } else if (m.type === "prevote_resp" && !m.reject) {
        // A granted pre-vote carries the term we would campaign in, not one we saw.
      } else if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, 0);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === "append" || m.type === "heartbeat")) {
        // A leader stuck in an old term (e.g. it could not hear our higher-term votes,
        // which pre-vote or the lease dropped) learns our term and steps down.
        this.send({ type: "append_resp", to: m.from });
      } else if (m.type === "prevote" || m.type === "vote") {
        // Tell the (pre-)candidate it is behind (Figure 2: reply with currentTerm). Dropping
        // it instead can deadlock: a node stuck with an old configuration and a high term may
        // never send the candidate anything, and the candidate would never catch up.
        this.send({ type: m.type === "vote" ? "vote_resp" : "prevote_resp", to: m.from, term: this.term, reject: true });
      }
      return;
    }

    if (m.type === "vote" || m.type === "prevote") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        break;
      case "candidate":
      case "pre_candidate":
        this.stepCandidate(m);
        break;
      case "follower":
        this.stepFollower(m);
        break;
    }
  }

  propose(data: string): ProposeResult {
    const refused = this.refuseProposal();
    if (refused) return refused;
    if (typeof data !== "string") return invalid("propose: data must be a string");
    this.appendEntries([{ index: 0, term: 0, type: "normal", data }]);
    this.bcastAppend();
    return { ok: true, index: this.log.lastIndex(), term: this.term };
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    const refused = this.refuseProposal();
    if (refused) return refused;
    if (typeof cc !== "object" || cc === null || (cc.type !== "add" && cc.type !== "remove") || !isNodeId(cc.node)) {
      return invalid("proposeConfChange: type must be add or remove and node a u32 id other than 0");
    }
    if (cc.context !== undefined && (typeof cc.context !== "string" || cc.context.length > MAX_CONF_CONTEXT_CHARS)) {
      return invalid(`proposeConfChange: context must be a string of at most ${MAX_CONF_CONTEXT_CHARS} characters`);
    }
    if (cc.type === "add" && this.voterSet.has(cc.node)) return invalid(`node ${cc.node} is already a voter`);
    if (cc.type === "remove" && !this.voterSet.has(cc.node)) return invalid(`node ${cc.node} is not a voter`);
    if (cc.type === "remove" && this.voterList.length === 1) return invalid(`node ${cc.node} is the last voter; a cluster needs one`);
    if (this.pendingConfIndex > this.log.applied) {
      return fail({
        error: "conf_change_pending",
        detail: `the membership change at index ${this.pendingConfIndex} is not applied yet (applied ${this.log.applied}); retry when it is`,
      });
    }
    if (!this.committedInCurrentTerm()) {
      // Ongaro's fix to single-server changes: a new leader must commit an entry of its
      // term first, so that no uncommitted change of an earlier leader is overtaken.
      return fail({ error: "no_quorum_yet", detail: "the new leader has not committed an entry of its term yet; retry shortly" });
    }
    this.appendEntries([{ index: 0, term: 0, type: "conf", data: encodeConfChange(cc) }]);
    this.pendingConfIndex = this.log.lastIndex();
    this.bcastAppend();
    return { ok: true, index: this.log.lastIndex(), term: this.term };
  }

  applyConfChange(cc: ConfChange): ConfState {
    const valid = typeof cc === "object" && cc !== null && (cc.type === "add" || cc.type === "remove") && isNodeId(cc.node);
    if (!valid) return this.confState();
    if (cc.type === "add") {
      if (!this.voterSet.has(cc.node)) {
        this.setVoters([...this.voterList, cc.node]);
        if (this.role === "leader" && !this.prs.has(cc.node)) {
          const pr = new Progress(cc.node, this.log.lastIndex() + 1, this.maxInflight);
          // Give it an election timeout before check-quorum counts it as silent.
          pr.recentActive = true;
          this.prs.set(cc.node, pr);
        }
      }
    } else if (this.voterSet.has(cc.node)) {
      this.setVoters(this.voterList.filter((v) => v !== cc.node));
      this.prs.delete(cc.node);
      if (cc.node === this.leadTransferee) this.leadTransferee = 0;
      if (cc.node === this.id && this.role !== "follower") {
        // Removed: a leader hands over by stepping down; the others elect among themselves.
        this.becomeFollower(this.term, 0);
      }
    }
    if (this.role === "leader") {
      // A smaller quorum may commit more; a new member is probed at once.
      if (this.maybeCommit()) {
        this.afterCommit();
        this.bcastAppend();
      } else {
        for (const v of this.voterList) if (v !== this.id) this.sendAppend(v, cc.type === "add" && v === cc.node);
      }
    }
    return this.confState();
  }

  readIndex(context: string): { ok: true } | Failure {
    if (typeof context !== "string" || context.length > MAX_READ_CONTEXT_CHARS) {
      return invalid(`readIndex: context must be a string of at most ${MAX_READ_CONTEXT_CHARS} characters`);
    }
    if (this.role === "leader") {
      if (this.reads.size + this.readsBeforeCommit.length >= this.maxPendingReads) {
        return fail({ error: "no_quorum_yet", detail: `${this.maxPendingReads} reads already wait for the leader to confirm its leadership; retry shortly` });
      }
      this.handleReadRequest(this.id, context);
      return { ok: true };
    }
    if (this.role === "follower" && this.lead !== 0) {
      this.send({ type: "read_index", to: this.lead, context });
      return { ok: true };
    }
    return fail({ error: "not_leader", leader: this.lead });
  }

  transferLeader(to: NodeId): { ok: true } | Failure {
    if (this.role !== "leader") return fail({ error: "not_leader", leader: this.lead });
    if (!isNodeId(to) || !this.voterSet.has(to)) return invalid(`transferLeader: node ${String(to)} is not a voter`);
    if (to === this.id) return { ok: true };
    if (this.leadTransferee === to) return { ok: true };
    this.leadTransferee = to;
    // The transfer must finish within an election timeout (tickLeader aborts it).
    this.electionElapsed = 0;
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send({ type: "timeout_now", to });
    else this.sendAppend(to);
    return { ok: true };
  }

  campaign(): void {
    this.hup(false);
  }

  forceSnapshot(id: NodeId): { ok: true } | Failure {
    if (this.role !== "leader") return fail({ error: "not_leader", leader: this.lead });
    const pr = this.prs.get(id);
    if (!pr || id === this.id) return invalid(`forceSnapshot: node ${String(id)} is not a follower of this leader`);
    if (pr.state === "snapshot") return { ok: true };
    if (!this.sendSnapshot(pr)) return invalid("forceSnapshot: the storage has no snapshot to send yet");
    return { ok: true };
  }

  reportUnreachable(id: NodeId): void {
    if (this.role !== "leader") return;
    const pr = this.prs.get(id);
    if (pr && pr.state === "replicate") pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.role !== "leader") return;
    const pr = this.prs.get(id);
    if (pr) this.snapshotDone(pr, ok);
  }

  // ---- Ready

  hasReady(): boolean {
    const soft = this.softState();
    if (soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role) return true;
    if (!sameHardState(this.hardState(), this.prevHard)) return true;
    if (this.msgs.length > 0 || this.readStates.length > 0) return true;
    if (this.log.hasEntriesToPersist() || this.log.hasSnapshotToPersist()) return true;
    return this.log.hasNextCommittedEntries();
  }

  ready(): Ready {
    if (this.readyOut) throw new Error("RawNode.ready: call advance() with the previous Ready first");
    this.readyOut = true;
    const rd: Ready = {
      entries: this.log.takeEntriesToPersist(),
      committedEntries: this.log.nextCommittedEntries(this.maxCommittedPerReady),
      messages: this.msgs,
      readStates: this.readStates,
    };
    const snap = this.log.takeSnapshotToPersist();
    if (snap) rd.snapshot = snap;
    const soft = this.softState();
    if (soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role) {
      rd.softState = soft;
      this.prevSoft = soft;
    }
    const hard = this.hardState();
    if (!sameHardState(hard, this.prevHard)) {
      rd.hardState = hard;
      this.prevHard = hard;
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted) this.log.markApplying(lastCommitted.index);
    this.msgs = [];
    this.readStates = [];
    return rd;
  }

  advance(rd: Ready): void {
    this.readyOut = false;
    if (rd.snapshot) {
      this.log.stableSnapTo(rd.snapshot.meta.index);
      this.log.appliedTo(rd.snapshot.meta.index);
    }
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) this.log.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted) this.log.appliedTo(lastCommitted.index);
  }

  status(): RaftStatus {
    const progress = this.role === "leader" ? this.voterList.flatMap((v) => this.prs.get(v)?.view() ?? []) : [];
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      role: this.role,
      leader: this.lead,
      voters: [...this.voterList],
      progress,
      leadTransferee: this.leadTransferee,
    };
  }

  // ---- roles

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = "follower";
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // Pre-vote (dissertation §9.6): ask first whether we could win, without bumping the term.
    this.votes.clear();
    this.prs.clear();
    this.role = "pre_candidate";
    this.lead = 0;
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = "leader";
    this.lead = this.id;
    const last = this.log.lastIndex();
    for (const v of this.voterList) this.prs.set(v, new Progress(v, last + 1, this.maxInflight));
    const self = this.prs.get(this.id);
    if (self) {
      self.match = last;
      self.becomeReplicate();
      self.recentActive = true;
    }
    // Any conf entry in the log may be uncommitted: no new change before it is applied.
    this.pendingConfIndex = last;
    // §5.4.2 / §8: a no-op of our term, so that earlier entries commit with it and reads can be served.
    this.appendEntries([{ index: 0, term: 0, type: "normal", data: "" }]);
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTick + Math.min(this.electionTick - 1, Math.floor(clamp01(this.rng()) * this.electionTick));
    this.leadTransferee = 0;
    this.votes.clear();
    this.prs.clear();
    this.pendingConfIndex = 0;
    this.reads.clear();
    this.readsBeforeCommit = [];
  }

  private promotable(): boolean {
    return this.voterSet.has(this.id);
  }

  // ---- ticks

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const [id, pr] of this.prs) if (id !== this.id) pr.lastHeardTicks++;
    if (this.electionElapsed >= this.electionTick) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        const active = this.voterList.filter((v) => v === this.id || this.prs.get(v)?.recentActive).length;
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
        if (active < quorum(this.voterList.length)) {
          // §6.2 (dissertation): a leader cut off from a quorum stops acting as one.
          this.becomeFollower(this.term, 0);
          return;
        }
      }
      // A transfer that did not finish in an election timeout is given up.
      this.leadTransferee = 0;
    }
    if (this.heartbeatElapsed >= this.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  // ---- elections

  private hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.log.hasUnappliedConf(UNAPPLIED_SCAN_MAX)) return;
    if (this.preVote && !transfer) this.startCampaign(true, false);
    else this.startCampaign(false, transfer);
  }

  private startCampaign(pre: boolean, transfer: boolean): void {
    let voteTerm: number;
    if (pre) {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      this.won(pre);
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const v of this.voterList) {
      if (v === this.id) continue;
      const m: Message = { type: pre ? "prevote" : "vote", from: this.id, to: v, term: voteTerm, index: lastIndex, logTerm: lastTerm };
      if (transfer) m.context = TRANSFER_CONTEXT;
      this.msgs.push(m);
    }
  }

  private won(pre: boolean): void {
    if (pre) {
      this.startCampaign(false, false);
    } else {
      this.becomeLeader();
      this.bcastAppend();
    }
  }

  private poll(from: NodeId, granted: boolean): "won" | "lost" | "pending" {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.voterList) {
      const got = this.votes.get(v);
      if (got === true) yes++;
      else if (got === false) no++;
    }
    const q = quorum(this.voterList.length);
    if (yes >= q) return "won";
    if (no > this.voterList.length - q) return "lost";
    return "pending";
  }

  private handleVoteRequest(m: Message): void {
    const respType = m.type === "vote" ? "vote_resp" : "prevote_resp";
    const canVote = this.vote === m.from || (this.vote === 0 && this.lead === 0) || (m.type === "prevote" && m.term > this.term);
    const upToDate = this.knobs?.voteIgnoresLog || (isNat(m.index) && isNat(m.logTerm) && this.log.isUpToDate(m.index, m.logTerm));
    if (canVote && upToDate) {
      // The grant carries the term asked about (for a pre-vote, one we are not in).
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  // ---- per role

  private stepLeader(m: Message): void {
    if (m.type === "read_index") {
      if (typeof m.context !== "string" || m.context.length > MAX_READ_CONTEXT_CHARS) return;
      if (this.reads.size + this.readsBeforeCommit.length >= this.maxPendingReads) return;
      this.handleReadRequest(m.from, m.context);
      return;
    }
    const pr = this.prs.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case "append_resp":
        pr.recentActive = true;
        pr.lastHeardTicks = 0;
        this.handleAppendResponse(m, pr);
        break;
      case "heartbeat_resp":
        pr.recentActive = true;
        pr.lastHeardTicks = 0;
        this.handleHeartbeatResponse(m, pr);
        break;
      case "snapshot_status":
        pr.recentActive = true;
        pr.lastHeardTicks = 0;
        this.snapshotDone(pr, m.reject !== true);
        break;
      default:
        break;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        break;
      case "heartbeat":
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        break;
      case "snapshot":
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        break;
      case "prevote_resp":
      case "vote_resp": {
        if ((m.type === "prevote_resp") !== (this.role === "pre_candidate")) return;
        const r = this.poll(m.from, m.reject !== true);
        if (r === "won") this.won(this.role === "pre_candidate");
        else if (r === "lost") this.becomeFollower(this.term, 0);
        break;
      }
      default:
        break;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        break;
      case "heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case "snapshot":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case "timeout_now":
        // Leader transfer: campaign at once, skipping pre-vote and the others' lease.
        this.hup(true);
        break;
      case "read_index_resp":
        if (isNat(m.index) && typeof m.context === "string") this.readStates.push({ index: m.index, context: m.context });
        break;
      default:
        break;
    }
  }

  // ---- follower side of replication

  private handleAppend(m: Message): void {
    if (!isNat(m.index) || !isNat(m.logTerm) || !isNat(m.commit)) return;
    if (!wellFormedEntries(m.entries, m.index, m.logTerm, m.term)) return;
    const ents = m.entries ?? [];
    if (m.index < this.log.committed) {
      // Old news (a duplicate or a reordered append): say how far we are.
      this.send({ type: "append_resp", to: m.from, index: this.log.committed });
      return;
    }
    const r = this.log.maybeAppend(m.index, m.logTerm, m.commit, ents, this.knobs?.skipPrevTermCheck === true);
    if (r.kind === "ok") {
      this.send({ type: "append_resp", to: m.from, index: r.lastNew });
    } else if (r.kind === "mismatch") {
      // Fast backtracking: point the leader at our last entry whose term is <= the one it
      // expected, so that it skips whole terms of conflict in one round trip.
      const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
      this.send({ type: "append_resp", to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
    }
    // "refused": a leader contradicting our committed prefix is broken; say nothing.
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends min(our match, its commit): within our log, and matching it.
    if (isNat(m.commit) && m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit);
    const resp: Message = { type: "heartbeat_resp", from: this.id, to: m.from, term: this.term };
    if (typeof m.context === "string") resp.context = m.context;
    this.msgs.push(resp);
  }

  private handleSnapshot(m: Message): void {
    if (!wellFormedSnapshot(m.snapshot)) return;
    const s = m.snapshot;
    if (this.restore(s)) this.send({ type: "append_resp", to: m.from, index: this.log.lastIndex() });
    else this.send({ type: "append_resp", to: m.from, index: this.log.committed });
  }

  /** True when the snapshot replaces our log (the Ready then carries it). */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We have its last entry: our log up to there is its log (log matching); keep it.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.setVoters(s.meta.confState.voters);
    return true;
  }

  // ---- leader side of replication

  private refuseProposal(): Failure | undefined {
    if (this.role !== "leader") return fail({ error: "not_leader", leader: this.lead });
    if (!this.promotable()) return fail({ error: "not_leader", leader: 0 });
    if (this.leadTransferee !== 0) return fail({ error: "transfer_in_progress", leader: this.id });
    const uncommitted = this.log.lastIndex() - this.log.committed;
    if (uncommitted >= this.maxUncommitted) {
      return fail({ error: "no_quorum_yet", detail: `${uncommitted} entries wait for a quorum to commit them; retry when the cluster catches up` });
    }
    return undefined;
  }

  private appendEntries(ents: Entry[]): void {
    let i = this.log.lastIndex();
    const stamped = ents.map((e) => ({ index: ++i, term: this.term, type: e.type, data: e.data }));
    this.log.append(stamped);
    // Our own entries count once persisted; the Ready contract persists them before
    // anything that depends on the commit goes out or is applied.
    this.prs.get(this.id)?.maybeUpdate(this.log.lastIndex());
    if (this.maybeCommit()) this.afterCommit();
  }

  /** §5.3/§5.4.2: commit what a quorum has, but only by counting replicas of an entry of our term. */
  private maybeCommit(): boolean {
    const mci = quorumIndex(this.voterList.map((v) => this.prs.get(v)?.match ?? 0));
    if (mci <= this.log.committed) return false;
    if (!this.knobs?.commitPriorTerms && this.log.term(mci) !== this.term) return false;
    this.log.commitTo(mci);
    return true;
  }

  private afterCommit(): void {
    if (this.readsBeforeCommit.length > 0 && this.committedInCurrentTerm()) {
      const waiting = this.readsBeforeCommit;
      this.readsBeforeCommit = [];
      for (const r of waiting) this.handleReadRequest(r.from, r.context);
    }
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (!isNat(m.index) || m.index > this.log.lastIndex()) return;
    if (m.reject) {
      let hint = isNat(m.rejectHint) ? Math.min(m.rejectHint, this.log.lastIndex()) : m.index - 1;
      if (isNat(m.logTerm) && m.logTerm > 0) hint = this.log.findConflictByTerm(hint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, Math.max(0, hint))) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(pr.id);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    // A probe answered at exactly its match also proves where the follower is: replicate.
    const updated = pr.maybeUpdate(m.index);
    if (!updated && !(pr.state === "probe" && pr.match === m.index)) return;
    if (pr.state === "probe") {
      pr.becomeReplicate();
    } else if (pr.state === "snapshot" && pr.match + 1 >= this.log.firstIndex()) {
      // It installed the snapshot (or a newer one than we sent: the transport may
      // refresh it), and what follows is in our log: replicate from its match.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "replicate") {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.afterCommit();
      // Without commitBroadcast the new commit index rides on the next append or heartbeat.
      if (this.commitBroadcast) this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(pr.id);
    }
    // Fill the window: each call sends one batch; it stops when paused or caught up.
    while (this.sendAppend(pr.id, false)) {
      // keep sending
    }
    if (pr.id === this.leadTransferee && pr.match === this.log.lastIndex()) this.send({ type: "timeout_now", to: pr.id });
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.probeSent = false;
    // Appends of a full window may all have been lost: free one slot so that the next
    // append goes out, and is rejected if there is a gap (which puts it back to probing).
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(pr.id);
    if (typeof m.context === "string" && m.context !== "") {
      const q = quorum(this.voterList.length);
      const done = this.reads.ack(m.from, m.context, (acks) => this.voterList.filter((v) => acks.has(v)).length >= q);
      for (const r of done) this.answerRead(r.from, r.context, r.index);
    }
  }

  private snapshotDone(pr: Progress, ok: boolean): void {
    if (pr.state !== "snapshot") return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or the next heartbeat response) before probing.
    pr.probeSent = true;
  }

  /** One append to `to` if its progress allows; false when nothing was sent. */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.prs.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    if (pr.state === "probe" && (this.shouldResync(pr) || this.joinsEmpty(pr))) return this.sendSnapshot(pr);
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = prevTerm === undefined ? undefined : this.log.slice(pr.next, this.log.lastIndex() + 1, this.maxEntriesPerMsg);
    if (prevTerm === undefined || ents === undefined) return this.sendSnapshot(pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.msgs.push({ type: "append", from: this.id, to, term: this.term, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    const last = ents[ents.length - 1];
    pr.sentAppend(ents.length, last ? last.index : prevIndex);
    return true;
  }

  /** A probing follower this far behind is better served by a snapshot than by entries (design §6: resync threshold). */
  private shouldResync(pr: Progress): boolean {
    const behind = this.log.lastIndex() - (pr.next - 1);
    if (behind <= this.resyncThreshold) return false;
    return this.log.snapshot().meta.index >= pr.next;
  }

  /**
   * A follower with nothing in common with us (a member added with an
   * empty disk) starts from a snapshot when there is one: faster than the
   * whole log, and the only way it learns a founding configuration that
   * the storage keeps outside the log.
   */
  private joinsEmpty(pr: Progress): boolean {
    return pr.match === 0 && pr.next === 1 && this.log.snapshot().meta.index > 0;
  }

  private sendSnapshot(pr: Progress): boolean {
    const snap = this.log.snapshot();
    if (snap.meta.index === 0) return false;
    this.msgs.push({ type: "snapshot", from: this.id, to: pr.id, term: this.term, snapshot: snap });
    pr.becomeSnapshot(snap.meta.index);
    return true;
  }

  private bcastAppend(): void {
    for (const v of this.voterList) if (v !== this.id) this.sendAppend(v);
  }

  /**
   * Heartbeats go to every follower whatever its state (a snapshot in
   * flight must not let its election timer run out). They carry
   * min(match, commit), never a commit index past what it is known to have,
   * and the newest pending read round.
   */
  private bcastHeartbeat(): void {
    const round = this.reads.lastRound();
    for (const v of this.voterList) {
      if (v === this.id) continue;
      const pr = this.prs.get(v);
      const m: Message = { type: "heartbeat", from: this.id, to: v, term: this.term, commit: Math.min(pr?.match ?? 0, this.log.committed) };
      if (round) m.context = round;
      this.msgs.push(m);
    }
  }

  // ---- reads

  private handleReadRequest(from: NodeId, context: string): void {
    if (!this.committedInCurrentTerm()) {
      // §6.4 step 1: until an entry of our term commits, our commit index may be behind.
      this.readsBeforeCommit.push({ from, context });
      return;
    }
    if (this.voterList.length === 1 && this.voterSet.has(this.id)) {
      this.answerRead(from, context, this.log.committed);
      return;
    }
    this.reads.add(from, context, this.log.committed, this.id);
    this.bcastHeartbeat();
  }

  private answerRead(from: NodeId, context: string, index: number): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: "read_index_resp", to: from, index, context });
  }

  // ---- helpers

  private send(m: Omit<Message, "from" | "term"> & { term?: number }): void {
    this.msgs.push({ ...m, from: this.id, term: m.term ?? this.term });
  }

  private setVoters(voters: readonly NodeId[]): void {
    this.voterSet = new Set(voters.filter(isNodeId));
    this.voterList = [...this.voterSet].sort((a, b) => a - b);
  }

  private confState(): ConfState {
    return { voters: [...this.voterList] };
  }

  private softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }
}

function fail(e: ProposeError): Failure {
  return { ok: false, ...e };
}

function invalid(detail: string): Failure {
  return fail({ error: "invalid_request", detail });
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(Math.max(x, 0), 0.999999) : 0;
}

function checkConfig(cfg: RaftConfig): void {
  const bad = (field: string, why: string): never => {
    throw new Error(`RaftConfig.${field}: ${why}`);
  };
  if (!isNodeId(cfg.id)) bad("id", `${String(cfg.id)} is not a node id (a u32 other than 0)`);
  const positive = (field: keyof RaftConfig) => {
    const x = cfg[field];
    if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 1) bad(field, `must be a positive integer, got ${String(x)}`);
  };
  for (const f of ["electionTick", "heartbeatTick", "maxEntriesPerMsg", "maxInflightMsgs", "resyncThreshold"] as const) positive(f);
  for (const f of ["maxCommittedPerReady", "maxUncommittedEntries", "maxPendingReads"] as const) if (cfg[f] !== undefined) positive(f);
  if (cfg.heartbeatTick >= cfg.electionTick) bad("heartbeatTick", `must be below electionTick (${cfg.electionTick}), got ${cfg.heartbeatTick}`);
  if (!isNat(cfg.applied)) bad("applied", `must be a non-negative integer, got ${String(cfg.applied)}`);
  if (typeof cfg.rng !== "function") bad("rng", "must be a function returning [0, 1)");
  if (cfg.testingKnobs !== undefined && cfg.testingKnobs.iKnowThisBreaksRaft !== true) {
    bad("testingKnobs", "is for tests that break Raft on purpose; leave it unset");
  }
}
