import { describe, expect, test } from "bun:test";
import { RaftLog } from "../../src/raft/log.ts";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import type { Entry } from "../../src/raft/types.ts";

const e = (index: number, term: number, data = `d${index}`): Entry => ({ index, term, type: "normal", data });

function stored(...terms: number[]): MemoryStorage {
  const s = new MemoryStorage({ voters: [1] });
  s.append(terms.map((t, k) => e(k + 1, t)));
  return s;
}

describe("RaftLog", () => {
  test("terms come from storage, then from the unstable entries", () => {
    const log = new RaftLog(stored(1, 1, 2));
    log.append([e(4, 3)]);
    expect([0, 1, 2, 3, 4, 5].map((i) => log.term(i))).toEqual([0, 1, 1, 2, 3, undefined]);
    expect(log.lastIndex()).toBe(4);
    expect(log.lastTerm()).toBe(3);
  });

  test("the up-to-date rule compares the last term first, then the last index", () => {
    const log = new RaftLog(stored(1, 1, 2));
    expect(log.isUpToDate(1, 3)).toBe(true); // shorter but a later last term
    expect(log.isUpToDate(10, 1)).toBe(false); // longer but an earlier last term
    expect(log.isUpToDate(3, 2)).toBe(true); // equal
    expect(log.isUpToDate(2, 2)).toBe(false); // same term, shorter
  });

  test("findConflict names the first entry whose term differs or that is missing", () => {
    const log = new RaftLog(stored(1, 2, 3));
    expect(log.findConflict([e(1, 1), e(2, 2)])).toBe(0);
    expect(log.findConflict([e(2, 2), e(3, 4)])).toBe(3);
    expect(log.findConflict([e(3, 3), e(4, 4)])).toBe(4);
  });

  test("maybeAppend truncates only a conflicting suffix and never a matching one", () => {
    const log = new RaftLog(stored(1, 1, 1, 1));
    // A stale duplicate of entries 2..3 must not cut entry 4.
    expect(log.maybeAppend(1, 1, 0, [e(2, 1), e(3, 1)])).toEqual({ kind: "ok", lastNew: 3 });
    expect(log.lastIndex()).toBe(4);
    // A conflict at 3 drops 3..4 and appends the leader's.
    expect(log.maybeAppend(2, 1, 0, [e(3, 2, "x")])).toEqual({ kind: "ok", lastNew: 3 });
    expect(log.lastIndex()).toBe(3);
    expect(log.term(3)).toBe(2);
  });

  test("maybeAppend refuses a previous entry that does not match, and a conflict inside the committed prefix", () => {
    const log = new RaftLog(stored(1, 1, 1));
    expect(log.maybeAppend(3, 2, 0, [e(4, 2)]).kind).toBe("mismatch");
    expect(log.maybeAppend(5, 1, 0, [e(6, 1)]).kind).toBe("mismatch");
    log.commitTo(3);
    expect(log.maybeAppend(1, 1, 3, [e(2, 5)]).kind).toBe("refused");
    expect(log.term(2)).toBe(1);
  });

  test("maybeAppend commits no further than the last new entry", () => {
    const log = new RaftLog(stored(1, 1, 1, 1, 1));
    log.maybeAppend(1, 1, 5, [e(2, 1)]);
    expect(log.committed).toBe(2);
  });

  test("findConflictByTerm skips a whole term at once", () => {
    const log = new RaftLog(stored(1, 1, 2, 2, 2, 4, 4));
    expect(log.findConflictByTerm(7, 3)).toEqual({ index: 5, term: 2 });
    expect(log.findConflictByTerm(7, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(7, 4)).toEqual({ index: 7, term: 4 });
    expect(log.findConflictByTerm(100, 4)).toEqual({ index: 7, term: 4 });
  });

  test("slice reads across storage and unstable entries, bounded, and says when entries are compacted", () => {
    const s = stored(1, 1, 1, 1, 1);
    s.createSnapshot(2, { voters: [1] });
    s.compact(2);
    const log = new RaftLog(s);
    log.append([e(6, 2), e(7, 2)]);
    expect(log.slice(3, 8, 100)!.map((x) => x.index)).toEqual([3, 4, 5, 6, 7]);
    expect(log.slice(4, 8, 3)!.map((x) => x.index)).toEqual([4, 5, 6]);
    expect(log.slice(2, 8, 100)).toBeUndefined();
    expect(log.firstIndex()).toBe(3);
    expect(log.term(2)).toBe(1);
    expect(log.term(1)).toBeUndefined();
  });

  test("unstable entries are handed out once, then dropped when persisted", () => {
    const s = stored(1);
    const log = new RaftLog(s);
    log.append([e(2, 1), e(3, 1)]);
    expect(log.takeEntriesToPersist().map((x) => x.index)).toEqual([2, 3]);
    expect(log.hasEntriesToPersist()).toBe(false);
    log.append([e(4, 1)]);
    expect(log.takeEntriesToPersist().map((x) => x.index)).toEqual([4]);
    s.append([e(2, 1), e(3, 1), e(4, 1)]);
    log.stableTo(4, 1);
    expect(log.lastIndex()).toBe(4);
    expect(log.term(3)).toBe(1);
  });

  test("a truncation of entries being persisted hands out the replacement again, and stableTo of a replaced entry is ignored", () => {
    const s = stored(1);
    const log = new RaftLog(s);
    log.append([e(2, 1), e(3, 1)]);
    expect(log.takeEntriesToPersist().length).toBe(2);
    log.append([e(3, 2)]);
    expect(log.takeEntriesToPersist().map((x) => [x.index, x.term])).toEqual([[3, 2]]);
    log.stableTo(3, 1); // the Ready that carried (3, 1) is done: (3, 2) is not stable yet
    expect(log.term(3)).toBe(2);
    s.append([e(2, 1), e(3, 2)]);
    log.stableTo(3, 2);
    expect(log.hasEntriesToPersist()).toBe(false);
    expect(log.term(3)).toBe(2);
  });

  test("a restored snapshot replaces the log and holds back committed entries until it is applied", () => {
    const log = new RaftLog(stored(1, 1));
    log.restore({ meta: { index: 10, term: 3, confState: { voters: [1] } } });
    expect(log.firstIndex()).toBe(11);
    expect(log.lastIndex()).toBe(10);
    expect(log.term(10)).toBe(3);
    expect(log.committed).toBe(10);
    expect(log.hasNextCommittedEntries()).toBe(false);
    expect(log.takeSnapshotToPersist()?.meta.index).toBe(10);
    expect(log.takeSnapshotToPersist()).toBeUndefined();
  });

  test("committed entries are handed out in bounded batches", () => {
    const log = new RaftLog(stored(1, 1, 1, 1, 1));
    log.commitTo(5);
    const first = log.nextCommittedEntries(2);
    expect(first.map((x) => x.index)).toEqual([1, 2]);
    log.markApplying(2);
    expect(log.nextCommittedEntries(10).map((x) => x.index)).toEqual([3, 4, 5]);
  });

  test("committing past the end is a programmer error", () => {
    const log = new RaftLog(stored(1));
    expect(() => log.commitTo(5)).toThrow("past the last index");
  });

  test("unapplied conf entries are found between applied and committed", () => {
    const s = new MemoryStorage({ voters: [1] });
    s.append([e(1, 1), { index: 2, term: 1, type: "conf", data: "{}" }, e(3, 1)]);
    const log = new RaftLog(s);
    log.commitTo(3);
    expect(log.hasUnappliedConf(100)).toBe(true);
    log.appliedTo(2);
    expect(log.hasUnappliedConf(100)).toBe(false);
  });
});
