/**
 * The Raft core's public types (design §6; the shape of etcd-io/raft).
 *
 * The core is a deterministic state machine: it does no I/O, reads no
 * clock and draws no random number of its own (the Rng comes in through
 * RaftConfig). The application drives it:
 *
 *   tick()           every tickMs of its clock
 *   step(msg)        for each message from a peer
 *   propose(data)    for a client write (leader only)
 *   ready()          → what to persist, send and apply now
 *   advance(ready)   after it has done so
 *
 * The contract of a Ready, in this order:
 *   1. persist `hardState` (if set), `entries` (appended after truncating
 *      any conflicting suffix at entries[0].index) and `snapshot` (if set)
 *      durably (fsync);
 *   2. only then send `messages` (a leader may count its own persisted
 *      entries towards the commit index);
 *   3. apply `committedEntries` in order (they are always persisted already:
 *      either earlier or by step 1 of this same Ready);
 *   4. call advance(ready).
 */

/** A master's id: a u32 other than 0 (it goes into MASTER_ANN's node id field). 0 means "none". */
export type NodeId = number;

export type EntryType = "normal" | "conf";

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  /**
   * Opaque to the core for "normal" entries ("" is the no-op a new leader
   * appends). For "conf" entries: `encodeConfChange(cc)`.
   */
  data: string;
}

/** Persisted before any message that depends on it is sent. */
export interface HardState {
  term: number;
  /** Who this node voted for in `term`; 0 = nobody. */
  vote: NodeId;
  commit: number;
}

/** The voting members. */
export interface ConfState {
  voters: NodeId[];
}

/** Single-server membership change (Raft dissertation §4.1): one at a time. */
export interface ConfChange {
  type: "add" | "remove";
  node: NodeId;
  /** Opaque to the core (lava puts the new member's "host:port" here). */
  context?: string;
}

export interface SnapshotMeta {
  /** Last entry the snapshot covers. */
  index: number;
  term: number;
  confState: ConfState;
}

/**
 * `data` is opaque to the core: the simulator puts its state machine in it;
 * lava's HTTP transport streams the SQLite database instead and leaves it
 * undefined inside the core.
 */
export interface Snapshot {
  meta: SnapshotMeta;
  data?: unknown;
}

export type MessageType =
  | "prevote"
  | "prevote_resp"
  | "vote"
  | "vote_resp"
  | "append"
  | "append_resp"
  | "heartbeat"
  | "heartbeat_resp"
  | "snapshot"
  /** follower → leader: "my snapshot install finished (reject=false) or failed (reject=true)". */
  | "snapshot_status"
  /** leader → transfer target: campaign now, skipping pre-vote and the lease. */
  | "timeout_now"
  /** follower → leader: please confirm leadership for a read (context = the read's id). */
  | "read_index"
  | "read_index_resp";

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** append: index and term of the entry just before `entries`; vote/prevote: the candidate's last index and term. */
  index?: number;
  logTerm?: number;
  entries?: Entry[];
  /** Leader's commit index (append, heartbeat). */
  commit?: number;
  reject?: boolean;
  /** append_resp with reject: the follower's hint where the logs may match (its last index or the conflict's start). */
  rejectHint?: number;
  /**
   * For the read_index round trip and for heartbeats carrying it; on a vote
   * request, "transfer" marks a campaign forced by timeout_now (voters then
   * ignore their leader lease).
   */
  context?: string;
  snapshot?: Snapshot;
}

export type Role = "follower" | "pre_candidate" | "candidate" | "leader";

/** Volatile state worth showing (and the basis of `lava ctl cluster`). */
export interface SoftState {
  leader: NodeId;
  role: Role;
}

/** A read that may be served once the state machine has applied `index` (read index, Raft §6.4). */
export interface ReadState {
  index: number;
  context: string;
}

export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
}

/**
 * What the core reads of the stable log. Indexes are 1-based; the log is
 * [firstIndex, lastIndex], and firstIndex - 1 is the snapshot's index (0 at
 * the start). Synchronous on purpose: bun:sqlite is, and the simulator's
 * memory store is.
 */
export interface RaftStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at most maxEntries of them (at least one if any). */
  entries(lo: number, hi: number, maxEntries: number): Entry[];
  /** Term of entry i, for firstIndex - 1 <= i <= lastIndex; undefined if compacted away or past the end. */
  term(i: number): number | undefined;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot (index 0 and an empty voter list if none yet). */
  snapshot(): Snapshot;
}

export interface RaftConfig {
  id: NodeId;
  storage: RaftStorage;
  /** Ticks without hearing from a leader before a follower campaigns; randomized in [electionTick, 2 × electionTick). */
  electionTick: number;
  /** Leader sends heartbeats every this many ticks; must be below electionTick. */
  heartbeatTick: number;
  /** Entries in one append message (design §6: 100). */
  maxEntriesPerMsg: number;
  /** Append messages in flight per follower before waiting for answers. */
  maxInflightMsgs: number;
  /** A follower further behind than this (entries) gets a snapshot instead of entries (design §6: 1000). */
  resyncThreshold: number;
  /** Pre-vote (Raft §9.6): a partitioned node does not bump the term on rejoining. */
  preVote: boolean;
  /** Leader steps down when it has not heard from a quorum for an election timeout (and followers ignore votes within the lease). */
  checkQuorum: boolean;
  /** Uniform [0, 1): the randomized election timeouts come from here. */
  rng: () => number;
  /** The index the application has applied up to (on restart: lastApplied from its state). */
  applied: number;
  /** Most entries handed out in one Ready's committedEntries (default 1000). */
  maxCommittedPerReady?: number;
  /** A leader refuses proposals (no_quorum_yet) while this many entries are not yet committed (default 10000). */
  maxUncommittedEntries?: number;
  /** Read-index requests queued at a leader at once; more are refused (default 1024). */
  maxPendingReads?: number;
  /**
   * Send a new commit index to the followers as soon as it advances (etcd's
   * behaviour, the default). With false, followers learn it from the next
   * append or heartbeat (≤ heartbeatTick later): clients are answered by the
   * leader, so writes are no slower, and a write made alone costs half the
   * messages. lava's masters run with false.
   */
  commitBroadcast?: boolean;
  /**
   * TESTS ONLY. Each knob breaks Raft on purpose, so that the simulator can
   * prove it notices. Production code never sets this field; the core
   * refuses a knob whose `iKnowThisBreaksRaft` is not set.
   */
  testingKnobs?: RaftTestingKnobs;
}

/** See RaftConfig.testingKnobs: for tests that check that the checks can fail. */
export interface RaftTestingKnobs {
  iKnowThisBreaksRaft: true;
  /** Grant votes without comparing logs (breaks leader completeness). */
  voteIgnoresLog?: boolean;
  /** Accept an append when the previous index exists, whatever its term (breaks log matching). */
  skipPrevTermCheck?: boolean;
  /** Commit entries of earlier terms by counting replicas (breaks §5.4.2, Figure 8). */
  commitPriorTerms?: boolean;
}

/** Why a proposal or request was not taken; the caller forwards to `leader` (0 = unknown) or retries. */
export type ProposeError =
  | { error: "not_leader"; leader: NodeId }
  | { error: "conf_change_pending"; detail: string }
  | { error: "transfer_in_progress"; leader: NodeId }
  | { error: "no_quorum_yet"; detail: string }
  /** The request itself makes no sense (e.g. transfer to a node that is not a voter): do not retry it. */
  | { error: "invalid_request"; detail: string };

export type ProposeResult = { ok: true; index: number; term: number } | ({ ok: false } & ProposeError);

/** A follower's replication progress as the leader sees it. */
export interface Progress {
  id: NodeId;
  /** Highest index known to be replicated on it. */
  match: number;
  next: number;
  state: "probe" | "replicate" | "snapshot";
  /** Ticks since the leader last heard from it. */
  lastHeardTicks: number;
  pendingSnapshot: number;
}

/** Read-only view for status endpoints and the simulator's invariant checks. */
export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  role: Role;
  leader: NodeId;
  voters: NodeId[];
  /** Only on the leader. */
  progress: Progress[];
  leadTransferee: NodeId;
}

/**
 * The core's API (implemented by `RawNode` in node.ts). Nothing here throws
 * for bad input from the network: a message that makes no sense is ignored.
 */
export interface RaftNode {
  tick(): void;
  step(msg: Message): void;
  /** Appends `data` as a normal entry (leader only). The entry is committed when it shows up in committedEntries at this index with this term. */
  propose(data: string): ProposeResult;
  /** One membership change at a time, and only after the leader has committed an entry of its own term. */
  proposeConfChange(cc: ConfChange): ProposeResult;
  /** The application calls this when it applies a committed "conf" entry; returns the new voters. */
  applyConfChange(cc: ConfChange): ConfState;
  /** Linearizable read: the answer comes as a ReadState with this context in a later Ready (dropped if leadership is lost). */
  readIndex(context: string): { ok: true } | ({ ok: false } & ProposeError);
  /** Leader: hand leadership to `to` once it is caught up (timeout_now). */
  transferLeader(to: NodeId): { ok: true } | ({ ok: false } & ProposeError);
  /** Start an election now (the LAVA_IS_LEADER bootstrap hint; still needs a majority). */
  campaign(): void;
  /** Leader: send `id` a snapshot now instead of entries (force-resync). */
  forceSnapshot(id: NodeId): { ok: true } | ({ ok: false } & ProposeError);
  /** The transport could not reach `id`: go back to probing it. */
  reportUnreachable(id: NodeId): void;
  /** The transport finished (or failed) sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(rd: Ready): void;
  status(): RaftStatus;
}
