/**
 * The Raft log as the core sees it: the stable part in RaftStorage plus
 * the unstable part, entries (or a snapshot) handed out in a Ready and not
 * yet persisted (the shape of etcd's raftLog and unstable).
 *
 *   storage:  [firstIndex ........ storage.lastIndex]
 *   unstable:                [offset ......... lastIndex]   (may overlap:
 *             a conflicting suffix is truncated when the app persists it)
 *
 * `inProgress` marks unstable entries already handed out in a Ready (being
 * persisted), so the next Ready does not hand them out again.
 */
import type { Entry, RaftStorage, Snapshot } from "./types.ts";

export type AppendResult = { kind: "ok"; lastNew: number } | { kind: "mismatch" } | { kind: "refused"; why: string };

export class RaftLog {
  /** An unstable snapshot (from a leader), to persist and apply before any entry after it. */
  private snap: Snapshot | undefined;
  private snapInProgress = false;
  private ents: Entry[] = [];
  private offset: number;
  private inProgress: number;

  committed: number;
  /** Applied by the application (advance). */
  applied: number;
  /** Handed out in committedEntries (>= applied). */
  applying: number;

  constructor(readonly storage: RaftStorage) {
    this.offset = storage.lastIndex() + 1;
    this.inProgress = this.offset;
    const start = storage.firstIndex() - 1;
    this.committed = start;
    this.applied = start;
    this.applying = start;
  }

  firstIndex(): number {
    return this.snap ? this.snap.meta.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.ents.length > 0) return this.offset + this.ents.length - 1;
    if (this.snap) return this.snap.meta.index;
    return this.storage.lastIndex();
  }

  /** Term of entry i; undefined when compacted away, past the end or not an index. */
  term(i: number): number | undefined {
    if (this.snap && i === this.snap.meta.index) return this.snap.meta.term;
    if (i >= this.offset) {
      const e = this.ents[i - this.offset];
      return e?.term;
    }
    if (this.snap) return undefined;
    return this.storage.term(i);
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  matchTerm(i: number, t: number): boolean {
    const got = this.term(i);
    return got !== undefined && got === t;
  }

  /** §5.4.1: a log is at least as up to date if its last term is higher, or equal with an index at least as high. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries [lo, hi) (hi clamped to the end), at most `max` of them;
   * undefined when lo is compacted away (send a snapshot instead).
   */
  slice(lo: number, hi: number, max: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    hi = Math.min(hi, this.lastIndex() + 1);
    if (lo >= hi || max <= 0) return [];
    const out: Entry[] = [];
    if (lo < this.offset) {
      const stableHi = Math.min(hi, this.offset);
      const got = this.storage.entries(lo, stableHi, max);
      for (const e of got) out.push(e);
      // The storage may return fewer than asked (its own size limit): stop there, contiguous.
      if (got.length < Math.min(max, stableHi - lo)) return out;
    }
    if (hi > this.offset && out.length < max) {
      const from = Math.max(lo, this.offset);
      const n = Math.min(hi - from, max - out.length);
      for (let k = 0; k < n; k++) out.push(this.ents[from - this.offset + k]!);
    }
    return out;
  }

  /** The first entry of `ents` whose term disagrees with ours (or that we lack); 0 if all match. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with its term
   * (0 when unknown: compacted). Fast backtracking (§5.3's optimization):
   * one round trip skips a whole term of conflicting entries.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * A follower's append (§5.3): when our entry at `prevIndex` has
   * `prevTerm`, drop only a conflicting suffix (never entries that match:
   * a stale duplicate append must not cut newer ones) and append the rest.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, ents: readonly Entry[], skipTermCheck = false): AppendResult {
    const ok = skipTermCheck ? this.term(prevIndex) !== undefined : this.matchTerm(prevIndex, prevTerm);
    if (!ok) return { kind: "mismatch" };
    const lastNew = prevIndex + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) return { kind: "refused", why: `entry ${ci} conflicts with the committed prefix (commit ${this.committed})` };
      this.append(ents.slice(ci - (prevIndex + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return { kind: "ok", lastNew };
  }

  /** Appends after truncating from ents[0].index on; the caller guarantees it does not cut committed entries. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const from = ents[0]!.index;
    if (from - 1 < this.committed) throw new Error(`RaftLog.append: entry ${from} would overwrite the committed prefix (commit ${this.committed})`);
    if (from > this.lastIndex() + 1) throw new Error(`RaftLog.append: entry ${from} would leave a gap after ${this.lastIndex()}`);
    if (from === this.offset + this.ents.length) {
      for (const e of ents) this.ents.push(e);
    } else if (from <= this.offset) {
      // Replaces every unstable entry (and, once persisted, the stable ones from `from` on).
      this.offset = from;
      this.ents = [...ents];
      this.inProgress = from;
    } else {
      this.ents = this.ents.slice(0, from - this.offset);
      for (const e of ents) this.ents.push(e);
      this.inProgress = Math.min(this.inProgress, from);
    }
    return this.lastIndex();
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    if (i > this.lastIndex()) throw new Error(`RaftLog.commitTo: ${i} is past the last index ${this.lastIndex()}`);
    this.committed = i;
  }

  appliedTo(i: number): void {
    if (i > this.applied) this.applied = i;
    if (i > this.applying) this.applying = i;
  }

  /** Installs a leader's snapshot: the whole log is replaced by it. */
  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.snap = s;
    this.snapInProgress = false;
    this.ents = [];
    this.offset = s.meta.index + 1;
    this.inProgress = this.offset;
  }

  // ---- Ready support

  hasEntriesToPersist(): boolean {
    return this.offset + this.ents.length > this.inProgress;
  }

  /** Unstable entries not yet handed out; marks them in progress. */
  takeEntriesToPersist(): Entry[] {
    const from = Math.max(this.inProgress, this.offset);
    const out = this.ents.slice(from - this.offset);
    this.inProgress = this.offset + this.ents.length;
    return out;
  }

  hasSnapshotToPersist(): boolean {
    return this.snap !== undefined && !this.snapInProgress;
  }

  takeSnapshotToPersist(): Snapshot | undefined {
    if (!this.hasSnapshotToPersist()) return undefined;
    this.snapInProgress = true;
    return this.snap;
  }

  /** The app persisted entries up to (i, t): drop our copy, unless they have been replaced since. */
  stableTo(i: number, t: number): void {
    if (i < this.offset || this.term(i) !== t) return;
    this.ents = this.ents.slice(i + 1 - this.offset);
    this.offset = i + 1;
    this.inProgress = Math.max(this.inProgress, this.offset);
  }

  stableSnapTo(i: number): void {
    if (this.snap && this.snap.meta.index === i) {
      this.snap = undefined;
      this.snapInProgress = false;
    }
  }

  hasNextCommittedEntries(): boolean {
    if (this.snap) return false;
    return this.committed > Math.max(this.applying, this.firstIndex() - 1);
  }

  /** Committed entries not yet handed out, at most `max`. None while a snapshot waits to be applied. */
  nextCommittedEntries(max: number): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    const lo = Math.max(this.applying, this.firstIndex() - 1) + 1;
    return this.slice(lo, this.committed + 1, max) ?? [];
  }

  markApplying(i: number): void {
    if (i > this.applying) this.applying = i;
  }

  /** What to send a follower that needs compacted entries. */
  snapshot(): Snapshot {
    return this.snap ?? this.storage.snapshot();
  }

  /** Are there conf entries committed but not applied yet? (A node must not campaign with a stale configuration.) */
  hasUnappliedConf(scanMax: number): boolean {
    if (this.committed <= this.applied) return false;
    if (this.committed - this.applied > scanMax) return true;
    let lo = Math.max(this.applied + 1, this.firstIndex());
    while (lo <= this.committed) {
      const chunk = this.slice(lo, this.committed + 1, 1000);
      if (!chunk || chunk.length === 0) return false;
      for (const e of chunk) if (e.type === "conf") return true;
      lo = chunk[chunk.length - 1]!.index + 1;
    }
    return false;
  }
}
