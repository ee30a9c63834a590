/**
 * The simulated master's RaftStorage and DriverStorage over its database
 * file (db.ts), doing what src/store/raft-storage.ts does with SQLite:
 * one transaction per write (entries after truncating a conflicting
 * suffix, the hard state, whatever the caller applies inside it), synced
 * when it holds entries or a new term or vote and not otherwise, caches
 * changed only once the transaction committed, and a snapshot install
 * that replaces every state table and restarts the log after it.
 *
 * The simulator's faults act through `hooks`: a crash before the
 * transaction, inside it (rolled back), or after its commit; a disk error;
 * a slow write. A crashed process's storage refuses every later write.
 */
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from "../../../src/raft/types.ts";
import type { DriverStorage } from "../../../src/master/raft/driver.ts";
import { StoreError, type Members } from "../../../src/store/index.ts";
import { SimDb, Tx } from "./db.ts";

/** What one write is, for the fault hooks. */
export interface WriteKind {
  entries: number;
  hardState: boolean;
  /** synchronous=FULL (an fsync) rather than NORMAL. */
  sync: boolean;
  snapshot: boolean;
  /** The transaction applies committed entries (lastApplied moves). */
  applies: boolean;
}

/** What a commit changed, for the invariants. */
export interface Committed {
  entries: readonly Entry[];
  commitFrom: number;
  commitTo: number;
  term: number;
  /** Entries (appliedFrom, appliedTo] were applied by this transaction. */
  appliedFrom: number;
  appliedTo: number;
  snapshot: SnapshotMeta | null;
}

export interface StorageHooks {
  /** Before the transaction's first statement: may throw (a crash before the write, a disk error). */
  beforeWrite(w: WriteKind): void;
  /** After its statements, before COMMIT: may throw (a crash inside the transaction: nothing of it survives). */
  insideWrite(w: WriteKind): void;
  /** COMMIT returned (the process may die right after, or the write may have been slow). */
  afterWrite(w: WriteKind): void;
  committed(c: Committed): void;
}

/** The process died at this point: nothing it does from now on reaches its disk. */
export class SimCrash extends Error {
  constructor(where: string) {
    super(`simulated crash ${where}`);
    this.name = "SimCrash";
  }
}

/** A snapshot "file": the state tables as of `applied` (what VACUUM INTO copies). */
export interface SnapshotData {
  applied: number;
  appliedTerm: number;
  members: Members;
  kv: [string, string][];
  requests: [string, number][];
  requestsExpiredUpTo: number;
}

interface Meta {
  hs: HardState;
  snap: { index: number; term: number };
}

const NO_MEMBERS: Members = { voters: [], addrs: {} };

export class SimStorage implements DriverStorage {
  private snapIndex: number;
  private snapTerm: number;
  private last: number;
  private hs: HardState;
  private applied: number;
  private mem: Members;
  private tx: Tx | null = null;
  private pending: { members?: Members; applied?: number } = {};

  constructor(
    readonly db: SimDb,
    private readonly hooks: StorageHooks,
    /** The snapshot files received so far, by path. */
    private readonly files: (path: string) => SnapshotData | undefined,
  ) {
    const snap = (db.meta.get("raft.snap") as Meta["snap"] | undefined) ?? { index: 0, term: 0 };
    this.snapIndex = snap.index;
    this.snapTerm = snap.term;
    let last = snap.index;
    for (const i of db.log.keys()) if (i > last) last = i;
    this.last = last;
    this.hs = { ...((db.meta.get("raft.hs") as HardState | undefined) ?? { term: 0, vote: 0, commit: 0 }) };
    this.applied = (db.meta.get("lastApplied") as number | undefined) ?? 0;
    this.mem = (db.meta.get("members") as Members | undefined) ?? NO_MEMBERS;
  }

  // ---- RaftStorage

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hs }, confState: { voters: [...this.mem.voters] } };
  }
  firstIndex(): number {
    return this.snapIndex + 1;
  }
  lastIndex(): number {
    return this.last;
  }
  term(i: number): number | undefined {
    if (i === this.snapIndex) return this.snapTerm;
    if (i < this.snapIndex || i > this.last) return undefined;
    return this.db.log.get(i)?.term;
  }
  entries(lo: number, hi: number, maxEntries: number): Entry[] {
    const from = Math.max(lo, this.snapIndex + 1);
    const to = Math.min(hi, this.last + 1);
    if (from >= to) return [];
    const n = Math.max(1, Math.min(maxEntries, to - from));
    const out: Entry[] = [];
    for (let i = from; i < from + n; i++) {
      const e = this.db.log.get(i);
      if (!e) throw new Error(`sim storage: entry ${i} missing from [${this.snapIndex + 1}, ${this.last}]`);
      out.push(e);
    }
    return out;
  }
  snapshot(): Snapshot {
    return { meta: { index: this.applied, term: this.term(this.applied) ?? 0, confState: { voters: [...this.mem.voters] } } };
  }

  // ---- DriverStorage

  get hardState(): HardState {
    return { ...this.hs };
  }
  get lastApplied(): number {
    return this.applied;
  }
  get members(): Members {
    return { voters: [...this.mem.voters], addrs: { ...this.mem.addrs } };
  }

  /** The transaction under way (the state machine writes through it). */
  get current(): Tx {
    if (!this.tx) throw new Error("sim storage: no transaction under way");
    return this.tx;
  }

  bootstrap(members: Members): boolean {
    if (this.mem.voters.length > 0 || this.last > 0) return false;
    this.write(() => this.setMembersInTx(members), [], undefined, true);
    return true;
  }

  setMembersInTx(members: Members): void {
    const m = { voters: [...members.voters].sort((a, b) => a - b), addrs: { ...members.addrs } };
    this.current.set(this.db.meta, "members", m);
    this.pending.members = m;
  }

  setAppliedInTx(idx: number): void {
    this.current.set(this.db.meta, "lastApplied", idx);
    this.pending.applied = idx;
  }

  write(inTx: () => void, entries: Entry[] = [], hardState?: HardState, durable = false): void {
    if (this.tx) throw new Error("sim storage: write() inside write()");
    const sync = durable || entries.length > 0 || (hardState !== undefined && (hardState.term !== this.hs.term || hardState.vote !== this.hs.vote));
    const kind: WriteKind = { entries: entries.length, hardState: hardState !== undefined, sync, snapshot: false, applies: false };
    this.hooks.beforeWrite(kind);
    const tx = new Tx();
    this.tx = tx;
    this.pending = {};
    try {
      if (entries.length > 0) {
        const first = entries[0]!.index;
        for (let i = first; i <= this.last; i++) tx.delete(this.db.log, i);
        for (const e of entries) tx.set(this.db.log, e.index, { index: e.index, term: e.term, type: e.type, data: e.data });
      }
      if (hardState) tx.set(this.db.meta, "raft.hs", { ...hardState });
      inTx();
      kind.applies = this.pending.applied !== undefined;
      this.hooks.insideWrite(kind);
    } catch (e) {
      this.tx = null;
      this.pending = {};
      if (e instanceof SimCrash || e instanceof StoreError) throw e;
      throw new StoreError(`cannot write state: ${(e as Error).message}`);
    }
    this.tx = null;
    this.db.commit(tx.writes, sync);
    const commitFrom = this.hs.commit;
    const appliedFrom = this.applied;
    if (entries.length > 0) this.last = entries[entries.length - 1]!.index;
    if (hardState) this.hs = { ...hardState };
    if (this.pending.members) this.mem = this.pending.members;
    if (this.pending.applied !== undefined) this.applied = this.pending.applied;
    this.pending = {};
    this.hooks.committed({ entries, commitFrom, commitTo: this.hs.commit, term: this.hs.term, appliedFrom, appliedTo: this.applied, snapshot: null });
    this.hooks.afterWrite(kind);
  }

  compact(upTo: number): void {
    if (upTo <= this.snapIndex) return;
    if (upTo > this.applied) throw new Error(`sim storage: cannot compact to ${upTo} past the applied index ${this.applied}`);
    const term = this.term(upTo)!;
    const from = this.snapIndex;
    this.write(() => {
      const tx = this.current;
      for (let i = from + 1; i <= upTo; i++) tx.delete(this.db.log, i);
      tx.set(this.db.meta, "raft.snap", { index: upTo, term });
    });
    this.snapIndex = upTo;
    this.snapTerm = term;
  }

  /** The state tables as they are committed now (what the transport copies and streams). */
  copyState(): SnapshotData {
    return {
      applied: this.applied,
      appliedTerm: this.term(this.applied) ?? 0,
      members: this.members,
      kv: [...this.db.kv],
      requests: [...this.db.requests],
      requestsExpiredUpTo: (this.db.meta.get("requests.expiredUpTo") as number | undefined) ?? 0,
    };
  }

  installSnapshotFile(path: string, meta: SnapshotMeta, hardState: HardState): void {
    const data = this.files(path);
    if (!data) throw new Error(`sim storage: no snapshot file ${path}`);
    if (data.applied !== meta.index) throw new Error(`sim storage: snapshot ${path} covers ${data.applied}, not ${meta.index}`);
    const kind: WriteKind = { entries: 0, hardState: true, sync: true, snapshot: true, applies: true };
    this.hooks.beforeWrite(kind);
    const tx = new Tx();
    const db = this.db;
    for (const k of db.kv.keys()) tx.delete(db.kv, k);
    for (const k of db.requests.keys()) tx.delete(db.requests, k);
    for (const k of db.requestsByIndex.keys()) tx.delete(db.requestsByIndex, k);
    for (const [k, v] of data.kv) tx.set(db.kv, k, v);
    for (const [id, idx] of data.requests) {
      tx.set(db.requests, id, idx);
      tx.set(db.requestsByIndex, idx, id);
    }
    tx.set(db.meta, "requests.expiredUpTo", data.requestsExpiredUpTo);
    tx.set(db.meta, "lastApplied", data.applied);
    const members = { voters: [...data.members.voters], addrs: { ...data.members.addrs } };
    tx.set(db.meta, "members", members);
    for (let i = this.snapIndex + 1; i <= this.last; i++) tx.delete(db.log, i);
    tx.set(db.meta, "raft.snap", { index: meta.index, term: meta.term });
    const hs = { ...hardState, commit: Math.max(hardState.commit, meta.index) };
    tx.set(db.meta, "raft.hs", hs);
    this.hooks.insideWrite(kind);
    db.commit(tx.writes, true);
    const commitFrom = this.hs.commit;
    this.snapIndex = meta.index;
    this.snapTerm = meta.term;
    this.last = meta.index;
    this.hs = hs;
    this.applied = data.applied;
    this.mem = members;
    this.hooks.committed({ entries: [], commitFrom, commitTo: hs.commit, term: hs.term, appliedFrom: data.applied, appliedTo: data.applied, snapshot: meta });
    this.hooks.afterWrite(kind);
  }
}
