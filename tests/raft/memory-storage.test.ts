import { describe, expect, test } from "bun:test";
import { decodeConfChange } from "../../src/raft/confchange.ts";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import type { Entry } from "../../src/raft/types.ts";

const e = (index: number, term: number): Entry => ({ index, term, type: "normal", data: `d${index}.${term}` });

describe("MemoryStorage", () => {
  test("starts empty: log [1, 0], snapshot at 0 with the given voters", () => {
    const s = new MemoryStorage({ voters: [1, 2] });
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(0);
    expect(s.term(0)).toBe(0);
    expect(s.snapshot().meta).toEqual({ index: 0, term: 0, confState: { voters: [1, 2] } });
    expect(s.initialState()).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, confState: { voters: [1, 2] } });
  });

  test("append truncates a conflicting suffix at the first new entry", () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1), e(3, 1)]);
    s.append([e(2, 2)]);
    expect(s.lastIndex()).toBe(2);
    expect(s.term(2)).toBe(2);
    expect(() => s.append([e(5, 2)])).toThrow("gap");
  });

  test("entries are bounded by maxEntries and by the log", () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1), e(3, 1)]);
    expect(s.entries(1, 4, 2).map((x) => x.index)).toEqual([1, 2]);
    expect(s.entries(2, 4, 100).map((x) => x.index)).toEqual([2, 3]);
    expect(() => s.entries(2, 9, 100)).toThrow("past the last index");
  });

  test("a snapshot, then compaction up to it; compacted entries are refused", () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1), e(3, 2), e(4, 2)]);
    expect(() => s.compact(2)).toThrow("past the snapshot");
    s.createSnapshot(3, { voters: [1] }, { state: "x" });
    s.compact(2);
    expect(s.firstIndex()).toBe(3);
    expect(s.term(2)).toBe(1);
    expect(s.term(1)).toBeUndefined();
    expect(() => s.entries(2, 4, 10)).toThrow("compacted");
    expect(s.entries(3, 5, 10).map((x) => x.index)).toEqual([3, 4]);
    s.compact(3);
    expect(s.firstIndex()).toBe(4);
    expect(s.snapshot().meta).toEqual({ index: 3, term: 2, confState: { voters: [1] } });
    expect(s.initialState().confState).toEqual({ voters: [1] });
  });

  test("appending entries that were compacted away skips them", () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1), e(3, 1)]);
    s.createSnapshot(2, { voters: [1] });
    s.compact(2);
    s.append([e(1, 1), e(2, 1), e(3, 1), e(4, 1)]);
    expect(s.firstIndex()).toBe(3);
    expect(s.lastIndex()).toBe(4);
  });

  test("applySnapshot replaces the log and raises the commit; an older snapshot is refused", () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1)]);
    s.setHardState({ term: 1, vote: 1, commit: 1 });
    s.applySnapshot({ meta: { index: 10, term: 3, confState: { voters: [1, 2, 3] } } });
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(10);
    expect(s.term(10)).toBe(3);
    expect(s.hardState).toEqual({ term: 1, vote: 1, commit: 10 });
    expect(() => s.applySnapshot({ meta: { index: 5, term: 3, confState: { voters: [] } } })).toThrow("not newer");
  });

  test("createSnapshot refuses an index past the log or not past the current snapshot", () => {
    const s = new MemoryStorage();
    s.append([e(1, 1)]);
    expect(() => s.createSnapshot(2, { voters: [] })).toThrow("past the last index");
    s.createSnapshot(1, { voters: [] });
    expect(() => s.createSnapshot(1, { voters: [] })).toThrow("not past");
  });

  test("bootstrap writes the founders as committed conf entries at term 1", () => {
    const s = new MemoryStorage();
    s.bootstrap([3, 1, 2]);
    expect(s.lastIndex()).toBe(3);
    expect(s.hardState).toEqual({ term: 1, vote: 0, commit: 3 });
    const ccs = s.entries(1, 4, 10).map((x) => (x.type === "conf" ? decodeConfChange(x.data) : undefined));
    expect(ccs).toEqual([
      { type: "add", node: 1 },
      { type: "add", node: 2 },
      { type: "add", node: 3 },
    ]);
    expect(() => s.bootstrap([1])).toThrow("not empty");
  });
});
