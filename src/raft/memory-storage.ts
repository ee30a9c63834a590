/**
 * A RaftStorage held in memory: what the unit tests and the simulator use
 * as a node's "disk". The application side (append, setHardState,
 * applySnapshot, compact, createSnapshot) is what a Ready asks it to do.
 *
 * Layout: `ents[0]` is a placeholder for the snapshot's last entry (its
 * index and term only), so the log proper is ents[1..] and
 * firstIndex() = ents[0].index + 1 always.
 */
import { bootstrapEntries } from "./confchange.ts";
import type { ConfState, Entry, HardState, NodeId, RaftStorage, Snapshot } from "./types.ts";

export class MemoryStorage implements RaftStorage {
  private hs: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot;
  private ents: Entry[];

  /**
   * `confState`: voters held in the initial (index 0) snapshot, as etcd's
   * tests do. Fine for a fixed membership; a member added later with an
   * empty disk cannot learn them from the log (only from a snapshot), so a
   * cluster that grows starts with bootstrap() instead. A node joining an
   * existing cluster starts with none.
   */
  constructor(confState: ConfState = { voters: [] }) {
    this.snap = { meta: { index: 0, term: 0, confState: { voters: [...confState.voters] } } };
    this.ents = [placeholder(0, 0)];
  }

  // ---- RaftStorage

  /** confState is the snapshot's: entries after it are re-applied on restart (cfg.applied = snapshot index). */
  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hs }, confState: { voters: [...this.snap.meta.confState.voters] } };
  }

  entries(lo: number, hi: number, maxEntries: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new Error(`MemoryStorage.entries: ${lo} is compacted (first index ${offset + 1}); read from firstIndex() on`);
    if (hi > this.lastIndex() + 1) throw new Error(`MemoryStorage.entries: ${hi - 1} is past the last index ${this.lastIndex()}`);
    if (lo >= hi) return [];
    const n = Math.max(1, Math.min(maxEntries, hi - lo));
    return this.ents.slice(lo - offset, lo - offset + n);
  }

  term(i: number): number | undefined {
    const offset = this.ents[0]!.index;
    if (i < offset || i > this.lastIndex()) return undefined;
    return this.ents[i - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ---- application side

  /** A founding member of a new cluster: the founders as committed conf entries 1..n (see bootstrapEntries). */
  bootstrap(voters: readonly NodeId[]): void {
    if (this.lastIndex() !== 0 || this.snap.meta.confState.voters.length > 0) {
      throw new Error("MemoryStorage.bootstrap: the storage is not empty; bootstrap only a new cluster's founding members");
    }
    const ents = bootstrapEntries(voters);
    this.append(ents);
    this.hs = { term: 1, vote: 0, commit: ents.length };
  }

  get hardState(): HardState {
    return { ...this.hs };
  }

  setHardState(hs: HardState): void {
    this.hs = { ...hs };
  }

  /**
   * Appends `entries` (contiguous), first dropping any suffix from
   * entries[0].index on: Raft only ever sends a conflicting suffix there.
   * Entries already compacted away are skipped.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    const from = entries[0]!.index;
    if (from > this.lastIndex() + 1) {
      throw new Error(`MemoryStorage.append: entry ${from} would leave a gap after the last index ${this.lastIndex()}`);
    }
    const skip = Math.max(0, first - from);
    const offset = this.ents[0]!.index;
    this.ents.length = from + skip - offset;
    for (let k = skip; k < entries.length; k++) this.ents.push(entries[k]!);
  }

  /** Replaces the whole log by `snap` (what a Ready's `snapshot` asks for). */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index) {
      throw new Error(`MemoryStorage.applySnapshot: snapshot ${snap.meta.index} is not newer than the stored one (${this.snap.meta.index})`);
    }
    this.snap = snap;
    this.ents = [placeholder(snap.meta.index, snap.meta.term)];
    if (this.hs.commit < snap.meta.index) this.hs = { ...this.hs, commit: snap.meta.index };
  }

  /**
   * Records a snapshot of the application's state as of `index` (applied,
   * so within the log). Does not drop entries: compact() does.
   */
  createSnapshot(index: number, confState: ConfState, data?: unknown): Snapshot {
    if (index <= this.snap.meta.index) {
      throw new Error(`MemoryStorage.createSnapshot: ${index} is not past the current snapshot (${this.snap.meta.index})`);
    }
    const term = this.term(index);
    if (term === undefined) throw new Error(`MemoryStorage.createSnapshot: ${index} is past the last index ${this.lastIndex()}`);
    this.snap = { meta: { index, term, confState: { voters: [...confState.voters] } }, data };
    return this.snap;
  }

  /**
   * Drops the entries up to `index`. Only what a snapshot covers may go
   * (create one first): a follower that needs a dropped entry is sent the
   * snapshot instead.
   */
  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) return;
    if (index > this.snap.meta.index) {
      throw new Error(`MemoryStorage.compact: ${index} is past the snapshot (${this.snap.meta.index}); createSnapshot() at or beyond it first`);
    }
    const term = this.ents[index - offset]!.term;
    this.ents = [placeholder(index, term), ...this.ents.slice(index - offset + 1)];
  }
}

function placeholder(index: number, term: number): Entry {
  return { index, term, type: "normal", data: "" };
}
