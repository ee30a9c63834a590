import { describe, expect, test } from "bun:test";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import type { Entry } from "../../src/raft/types.ts";
import { Invariants, InvariantViolation } from "./invariants.ts";

const e = (index: number, term: number, data = `d${index}.${term}`): Entry => ({ index, term, type: "normal", data });

function disk(...es: Entry[]): MemoryStorage {
  const s = new MemoryStorage({ voters: [1, 2, 3] });
  s.append(es);
  return s;
}

function violation(f: () => void): string {
  try {
    f();
  } catch (err) {
    if (err instanceof InvariantViolation) return err.invariant;
    throw err;
  }
  return "none";
}

describe("the simulator's invariant checks", () => {
  test("election safety: two leaders of one term, ever", () => {
    const inv = new Invariants();
    inv.leaderSeen(1, 3, disk());
    inv.leaderGone(1);
    expect(violation(() => inv.leaderSeen(2, 3, disk()))).toBe("election safety");
    expect(violation(() => inv.leaderSeen(2, 4, disk()))).toBe("none");
  });

  test("log matching: one (index, term) with two contents, or after two different terms", () => {
    const inv = new Invariants();
    const a = disk(e(1, 1), e(2, 2));
    inv.persisted(1, [e(1, 1), e(2, 2)], a);
    expect(violation(() => inv.persisted(2, [e(1, 1)], disk(e(1, 1))))).toBe("none");
    expect(violation(() => inv.persisted(2, [e(2, 2, "other")], disk(e(1, 1), e(2, 2, "other"))))).toBe("log matching");
    expect(violation(() => inv.persisted(3, [e(2, 2)], disk(e(1, 3), e(2, 2))))).toBe("log matching");
  });

  test("leader completeness: a leader of a later term without a committed entry", () => {
    const inv = new Invariants();
    const a = disk(e(1, 1), e(2, 1));
    inv.persisted(1, [e(1, 1), e(2, 1)], a);
    inv.commitPersisted(1, 1, 0, 2, a, (i) => a.entries(i, i + 1, 1)[0]);
    expect(violation(() => inv.leaderSeen(2, 2, disk(e(1, 1))))).toBe("leader completeness");
    expect(violation(() => inv.leaderSeen(3, 3, disk(e(1, 1), e(2, 1), e(3, 3))))).toBe("none");
  });

  test("leader completeness, later: an entry committed after a later leader appeared must be in its log", () => {
    const inv = new Invariants();
    inv.leaderSeen(2, 5, disk(e(1, 1)));
    const a = disk(e(1, 1), e(2, 1));
    expect(violation(() => inv.commitPersisted(1, 1, 0, 2, a, (i) => a.entries(i, i + 1, 1)[0]))).toBe("leader completeness");
  });

  test("state machine safety: applying what was never committed, or two entries at one index", () => {
    const inv = new Invariants();
    expect(violation(() => inv.appliedEntry(1, e(1, 1)))).toBe("state machine safety");
    const a = disk(e(1, 1));
    inv.commitPersisted(1, 1, 0, 1, a, (i) => a.entries(i, i + 1, 1)[0]);
    inv.appliedEntry(1, e(1, 1));
    const b = disk(e(1, 2));
    expect(violation(() => inv.commitPersisted(2, 2, 0, 1, b, (i) => b.entries(i, i + 1, 1)[0]))).toBe("state machine safety");
    expect(violation(() => inv.snapshotInstalled(3, { meta: { index: 1, term: 7, confState: { voters: [] } } }))).toBe("state machine safety");
  });
});
