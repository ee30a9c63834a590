/**
 * The Raft log and hard state in SQLite (src/raft's RaftStorage), beside the
 * state they produce: one database, so that appending entries, recording
 * the hard state and applying committed entries can share one transaction
 * (one fsync) per Ready.
 *
 * Its keys in `meta` (all listed in meta.ts): the hard state and where the
 * log starts (node-local, `raft.*`), the members and lastApplied (state
 * machine). A snapshot carries every table and every meta key except `raft.*`.
 */
import { Database } from "bun:sqlite";
import type { ConfState, Entry, EntryType, HardState, RaftStorage, Snapshot, SnapshotMeta } from "../raft/types.ts";
import { explainSqliteError, StoreError, type OpenedStore } from "./db.ts";
import { copyDatabaseOffThread } from "./snapshot-copy.ts";
import { forgetRequestIndex } from "./requests.ts";
import { META, META_KEY_COLUMN, META_SELECT_SQL, META_TABLE, META_UPSERT_SQL, NODE_LOCAL_PREFIX, readMeta, type MetaKey } from "./meta.ts";

/** Voters and where to reach them ("host:port" of their HTTP port), by node id. */
export interface Members {
  voters: number[];
  addrs: Record<string, string>;
}

/** Entries kept in memory at the tail of the log: what followers and the apply loop read back soon. */
const TAIL_MAX = 4096;

interface Row {
  idx: number;
  term: number;
  type: string;
  data: string;
}

function toEntry(r: Row): Entry {
  return { index: r.idx, term: r.term, type: r.type as EntryType, data: r.data };
}

/** Tables that are not state-machine state: a snapshot install leaves them alone. */
const NOT_STATE = new Set(["log", META_TABLE, "__drizzle_migrations"]);

export class SqliteRaftStorage implements RaftStorage {
  private readonly sqlite: Database;
  private snapIndex: number;
  private snapTerm: number;
  private last: number;
  /** Contiguous entries ending at `last` (possibly empty). */
  private tail: Entry[] = [];
  private hs: HardState;
  private applied: number;
  private mem: Members;
  private readonly q;

  constructor(private readonly store: OpenedStore) {
    this.sqlite = store.sqlite;
    this.q = {
      meta: this.sqlite.query<{ value: string }, [MetaKey]>(META_SELECT_SQL),
      setMeta: this.sqlite.query<unknown, [MetaKey, string]>(META_UPSERT_SQL),
      range: this.sqlite.query<Row, [number, number, number]>("SELECT idx, term, type, data FROM log WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?"),
      term: this.sqlite.query<{ term: number }, [number]>("SELECT term FROM log WHERE idx = ?"),
      truncate: this.sqlite.query<unknown, [number]>("DELETE FROM log WHERE idx >= ?"),
      compact: this.sqlite.query<unknown, [number]>("DELETE FROM log WHERE idx <= ?"),
      insert: this.sqlite.query<unknown, [number, number, string, string]>("INSERT INTO log(idx, term, type, data) VALUES (?, ?, ?, ?)"),
      maxIdx: this.sqlite.query<{ m: number | null }, []>("SELECT max(idx) AS m FROM log"),
    };
    this.snapIndex = this.metaNum(META.raftSnapIndex);
    this.snapTerm = this.metaNum(META.raftSnapTerm);
    this.last = Math.max(this.snapIndex, this.q.maxIdx.get()?.m ?? 0);
    this.hs = { term: this.metaNum(META.raftTerm), vote: this.metaNum(META.raftVote), commit: this.metaNum(META.raftCommit) };
    this.applied = this.metaNum(META.lastApplied);
    this.mem = this.readMembers();
    if (this.last > this.snapIndex) this.tail = this.q.range.all(Math.max(this.snapIndex + 1, this.last - TAIL_MAX + 1), this.last + 1, TAIL_MAX).map(toEntry);
  }

  private metaNum(key: MetaKey): number {
    return Number(this.q.meta.get(key)?.value ?? 0);
  }

  private readMembers(): Members {
    const raw = this.q.meta.get(META.members)?.value;
    return raw ? (JSON.parse(raw) as Members) : { voters: [], addrs: {} };
  }

  // ---- RaftStorage (read by the core)

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
    const t = this.fromTail(i);
    if (t) return t.term;
    return this.q.term.get(i)?.term;
  }

  entries(lo: number, hi: number, maxEntries: number): Entry[] {
    const from = Math.max(lo, this.snapIndex + 1);
    const to = Math.min(hi, this.last + 1);
    if (from >= to) return [];
    const n = Math.max(1, Math.min(maxEntries, to - from));
    const start = this.tail[0]?.index;
    if (start !== undefined && from >= start) return this.tail.slice(from - start, from - start + n);
    return this.q.range.all(from, to, n).map(toEntry);
  }

  /**
   * What a lagging follower is sent: the state as of the last applied entry.
   * The transport replaces this with the meta of the database copy it really
   * streams (which may be a little newer): src/master/raft/transport.ts.
   */
  snapshot(): Snapshot {
    const index = this.applied;
    return { meta: { index, term: this.term(index) ?? 0, confState: { voters: [...this.mem.voters] } } };
  }

  private fromTail(i: number): Entry | undefined {
    const start = this.tail[0]?.index;
    return start === undefined || i < start ? undefined : this.tail[i - start];
  }

  // ---- application side

  get hardState(): HardState {
    return { ...this.hs };
  }
  get lastApplied(): number {
    return this.applied;
  }
  get members(): Members {
    return { voters: [...this.mem.voters], addrs: { ...this.mem.addrs } };
  }

  /**
   * First start of a new cluster: the initial voters (this node and its
   * configured peers). Every bootstrapping member computes the same list
   * from the same configuration. A node that joins an existing cluster
   * starts with no voters and learns them from the leader.
   */
  bootstrap(members: Members): boolean {
    if (this.mem.voters.length > 0 || this.last > 0) return false;
    this.write(() => this.setMembersInTx(members));
    return true;
  }

  /** Inside write(): record the applied membership (a conf entry was applied). */
  setMembersInTx(members: Members): void {
    this.q.setMeta.run(META.members, JSON.stringify({ voters: [...members.voters].sort((a, b) => a - b), addrs: members.addrs }));
    this.pending.members = members;
  }

  /** Inside write(): the state machine has applied up to `idx`. */
  setAppliedInTx(idx: number): void {
    this.q.setMeta.run(META.lastApplied, String(idx));
    this.pending.applied = idx;
  }

  private pending: { members?: Members; applied?: number } = {};

  /**
   * One IMMEDIATE transaction: entries appended (a conflicting suffix
   * truncated first), the hard state recorded, then whatever `inTx` does
   * (applying committed entries). synchronous=FULL: durable when this
   * returns. Caches change only after the commit, so a failed write leaves
   * this object as it was. Throws StoreError with advice.
   */
  write(inTx: () => void, entries: Entry[] = [], hardState?: HardState, durable = false): void {
    this.pending = {};
    // What must be on disk before anyone hears of it is the log and the vote (Raft §5): those
    // writes fsync (synchronous=FULL). Applying committed entries does not need to: the entries
    // are durable already (here and on a majority), and lastApplied commits with the effects, so
    // a crash that loses an apply replays it from the log. In WAL mode the next fsync makes the
    // earlier unsynced commits durable too, in order.
    const sync = durable || entries.length > 0 || (hardState !== undefined && (hardState.term !== this.hs.term || hardState.vote !== this.hs.vote));
    this.setSync(sync);
    try {
      this.sqlite.transaction(() => {
        if (entries.length > 0) {
          const first = entries[0]!.index;
          if (first <= this.last) this.q.truncate.run(first);
          for (const e of entries) this.q.insert.run(e.index, e.term, e.type, e.data);
        }
        if (hardState) {
          this.q.setMeta.run(META.raftTerm, String(hardState.term));
          this.q.setMeta.run(META.raftVote, String(hardState.vote));
          this.q.setMeta.run(META.raftCommit, String(hardState.commit));
        }
        inTx();
      }).immediate();
    } catch (e) {
      this.pending = {};
      if (e instanceof StoreError) throw e;
      throw new StoreError(`cannot write state: ${explainSqliteError(e, this.store.path)}`);
    }
    if (entries.length > 0) {
      const first = entries[0]!.index;
      const start = this.tail[0]?.index;
      if (start !== undefined && first >= start) this.tail.length = first - start;
      else this.tail = [];
      for (const e of entries) this.tail.push(e);
      if (this.tail.length > TAIL_MAX) this.tail = this.tail.slice(this.tail.length - TAIL_MAX);
      this.last = entries[entries.length - 1]!.index;
    }
    if (hardState) this.hs = { ...hardState };
    if (this.pending.members) this.mem = this.pending.members;
    if (this.pending.applied !== undefined) this.applied = this.pending.applied;
    this.pending = {};
  }

  private syncFull = true;

  private setSync(full: boolean): void {
    if (full === this.syncFull) return;
    this.sqlite.run(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    this.syncFull = full;
  }

  /** Drops entries up to `upTo` (already applied and covered by the state itself). */
  compact(upTo: number): void {
    if (upTo <= this.snapIndex) return;
    if (upTo > this.applied) throw new Error(`raft storage: cannot compact to ${upTo} past the applied index ${this.applied}`);
    const term = this.term(upTo)!;
    this.write(() => {
      this.q.compact.run(upTo);
      this.q.setMeta.run(META.raftSnapIndex, String(upTo));
      this.q.setMeta.run(META.raftSnapTerm, String(term));
    });
    this.snapIndex = upTo;
    this.snapTerm = term;
    const start = this.tail[0]?.index;
    if (start !== undefined && upTo >= start) this.tail = this.tail.slice(upTo - start + 1);
  }

  /**
   * Copies the state as of now into `path` (VACUUM INTO: a consistent,
   * compact copy read from one snapshot of the database) and says which
   * entry it covers. The copy runs in a worker thread, so the event loop
   * (heartbeats) never waits for it.
   */
  async createSnapshotFile(path: string, timeoutMs = 600_000): Promise<SnapshotMeta> {
    const r = await copyDatabaseOffThread({ src: this.store.path, dst: path }, timeoutMs);
    if (!r.ok) throw new Error(`cannot copy the database for a snapshot: ${r.error}`);
    const term = this.term(r.index);
    if (term === undefined) throw new Error(`snapshot at ${r.index} is outside the log [${this.snapIndex}, ${this.last}] (compacted while copying); it will be made again`);
    return { index: r.index, term, confState: { voters: r.voters } };
  }

  /**
   * Replaces the whole state by a snapshot database another master sent
   * (checked by the caller: integrity, same schema). One transaction: every
   * state table and state meta key copied over, the log dropped (a snapshot
   * discards the log it supersedes), the log restarted after the snapshot.
   */
  installSnapshotFile(path: string, meta: SnapshotMeta, hardState: HardState): void {
    const tables = (this.sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[])
      .map((t) => t.name)
      .filter((n) => !NOT_STATE.has(n));
    this.sqlite.run(`ATTACH DATABASE '${path.replaceAll("'", "''")}' AS snap`);
    try {
      this.write(() => {
        for (const t of tables) {
          this.sqlite.run(`DELETE FROM main."${t}"`);
          this.sqlite.run(`INSERT INTO main."${t}" SELECT * FROM snap."${t}"`);
        }
        // AUTOINCREMENT counters too, so that rows added later get the leader's ids.
        this.sqlite.run("DELETE FROM main.sqlite_sequence");
        this.sqlite.run("INSERT INTO main.sqlite_sequence SELECT * FROM snap.sqlite_sequence");
        const nodeLocal = `${META_KEY_COLUMN} LIKE '${NODE_LOCAL_PREFIX}%'`;
        this.sqlite.run(`DELETE FROM main.${META_TABLE} WHERE NOT ${nodeLocal}`);
        this.sqlite.run(`INSERT INTO main.${META_TABLE} SELECT * FROM snap.${META_TABLE} WHERE NOT ${nodeLocal}`);
        this.sqlite.run("DELETE FROM main.log");
        this.q.setMeta.run(META.raftSnapIndex, String(meta.index));
        this.q.setMeta.run(META.raftSnapTerm, String(meta.term));
      }, [], { ...hardState, commit: Math.max(hardState.commit, meta.index) }, true);
    } finally {
      this.sqlite.run("DETACH DATABASE snap");
    }
    this.snapIndex = meta.index;
    this.snapTerm = meta.term;
    this.last = meta.index;
    this.tail = [];
    this.applied = this.metaNum(META.lastApplied);
    this.mem = this.readMembers();
    forgetRequestIndex(this.store.db);
  }
}

/**
 * Checks a received snapshot database before it may replace our state:
 * not damaged, the same migrations as ours, and covering `index`.
 */
export function checkSnapshotFile(path: string, ours: OpenedStore, index: number): string | null {
  let copy: Database;
  try {
    copy = new Database(path, { readonly: true });
  } catch (e) {
    return `cannot open the snapshot: ${(e as Error).message}`;
  }
  try {
    const check = copy.query("PRAGMA quick_check").all() as { quick_check: string }[];
    if (check.length !== 1 || check[0]!.quick_check !== "ok") return `the snapshot failed its integrity check (${check[0]?.quick_check ?? "no answer"})`;
    const hashes = (db: Database) => (db.query("SELECT hash FROM __drizzle_migrations ORDER BY id").all() as { hash: string }[]).map((r) => r.hash).join(",");
    if (hashes(copy) !== hashes(ours.sqlite)) return "the snapshot comes from a master with a different database schema; run the same lava version on every master";
    const applied = Number(readMeta(copy, META.lastApplied) ?? -1);
    if (applied !== index) return `the snapshot covers entry ${applied}, not ${index} as announced`;
    return null;
  } catch (e) {
    return `cannot read the snapshot: ${(e as Error).message}`;
  } finally {
    copy.close();
  }
}
