import { describe, expect, test } from "bun:test";
import { checkHistory, checkKvHistory, registerModel, type KvOperation } from "./linearizability.ts";

const w = (value: string, call: number, ret: number, key = "k"): KvOperation => ({ key, input: { kind: "write", value }, output: null, call, ret });
const r = (output: string | null, call: number, ret: number, key = "k"): KvOperation => ({ key, input: { kind: "read" }, output, call, ret });
const OPEN = Infinity;

function linearizable(ops: KvOperation[]): boolean {
  return checkKvHistory(ops).ok;
}

describe("register histories that are linearizable", () => {
  test("the empty history", () => {
    expect(linearizable([])).toBe(true);
  });

  test("a read before any write sees nothing", () => {
    expect(linearizable([r(null, 1, 2)])).toBe(true);
  });

  test("sequential write then read of it", () => {
    expect(linearizable([w("a", 1, 2), r("a", 3, 4)])).toBe(true);
  });

  test("a read concurrent with a write may see either value", () => {
    expect(linearizable([w("a", 1, 2), w("b", 3, 6), r("a", 4, 5)])).toBe(true);
    expect(linearizable([w("a", 1, 2), w("b", 3, 6), r("b", 4, 5)])).toBe(true);
  });

  test("concurrent writes may take effect in either order", () => {
    expect(linearizable([w("a", 1, 4), w("b", 2, 3), r("a", 5, 6)])).toBe(true);
    expect(linearizable([w("a", 1, 4), w("b", 2, 3), r("b", 5, 6)])).toBe(true);
  });

  test("reads in one order of two concurrent writes, agreeing with each other", () => {
    // a and b overlap; one reader sees a then b: the order was a, b.
    expect(linearizable([w("a", 1, 10), w("b", 2, 10), r("a", 3, 4), r("b", 5, 6)])).toBe(true);
  });

  test("an open write may have happened: a later read sees it", () => {
    expect(linearizable([w("a", 1, 2), w("b", 3, OPEN), r("b", 10, 11)])).toBe(true);
  });

  test("an open write may not have happened: a later read does not see it", () => {
    expect(linearizable([w("a", 1, 2), w("b", 3, OPEN), r("a", 10, 11)])).toBe(true);
  });

  test("an open write may take effect long after its call, between two reads", () => {
    expect(linearizable([w("a", 1, 2), w("b", 3, OPEN), r("a", 10, 11), r("b", 20, 21)])).toBe(true);
  });

  test("keys are independent", () => {
    expect(linearizable([w("a", 1, 2, "x"), w("b", 3, 4, "y"), r("a", 5, 6, "x"), r("b", 5, 6, "y")])).toBe(true);
  });
});

describe("register histories that are not linearizable", () => {
  test("a stale read after a completed write", () => {
    expect(linearizable([w("a", 1, 2), w("b", 3, 4), r("a", 5, 6)])).toBe(false);
  });

  test("a read of a value never written", () => {
    expect(linearizable([w("a", 1, 2), r("z", 3, 4)])).toBe(false);
  });

  test("a read that sees nothing after a completed write", () => {
    expect(linearizable([w("a", 1, 2), r(null, 3, 4)])).toBe(false);
  });

  test("a read that sees a write before the write was called", () => {
    expect(linearizable([r("a", 1, 2), w("a", 3, 4)])).toBe(false);
  });

  test("two readers disagree on the order of two writes", () => {
    // b is read, then a: so a took effect after b; then a reader sees b again after that.
    expect(linearizable([w("a", 1, 10), w("b", 1, 10), r("b", 2, 3), r("a", 4, 5), r("b", 6, 7)])).toBe(false);
  });

  test("an open write seen, then the value before it seen again", () => {
    // Once b took effect (it was read), a cannot come back: the open write cannot be undone.
    expect(linearizable([w("a", 1, 2), w("b", 3, OPEN), r("b", 10, 11), r("a", 12, 13)])).toBe(false);
  });

  test("an open write cannot take effect before its call", () => {
    expect(linearizable([r("b", 1, 2), w("b", 3, OPEN)])).toBe(false);
  });

  test("a violation on one key among many is found and named", () => {
    const ops = [w("a", 1, 2, "x"), r("a", 3, 4, "x"), w("c", 1, 2, "y"), w("d", 3, 4, "y"), r("c", 5, 6, "y")];
    const res = checkKvHistory(ops);
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.key).toBe("y");
      expect(res.reason).toBe("not_linearizable");
    }
  });
});

describe("the search", () => {
  test("a long history of five clients with open writes stays cheap thanks to memoization", () => {
    // Five clients, one operation at a time each, overlapping one another; every
    // seventh write times out (open) and is read later anyway. Then a stale read.
    const ops: KvOperation[] = [];
    let last = "";
    let t = 0;
    for (let round = 0; round < 60; round++) {
      for (let c = 0; c < 5; c++) {
        const call = t + c;
        const n = round * 5 + c;
        if (c === 4) {
          ops.push(r(last === "" ? null : last, call, call + 3));
        } else {
          const value = `v${n}`;
          const open = n % 7 === 0;
          ops.push(w(value, call, open ? OPEN : call + 3));
          if (c === 3) last = value;
        }
      }
      t += 10;
    }
    expect(checkKvHistory(ops).ok).toBe(true);
    ops.push(r("v1", t + 100, t + 101));
    const res = checkKvHistory(ops);
    expect(res.ok).toBe(false);
    expect(res.steps).toBeLessThan(1_000_000);
  });

  test("a budget stops a search and says so", () => {
    const ops: KvOperation[] = [];
    for (let i = 0; i < 30; i++) ops.push(w(`v${i}`, 0, 100));
    ops.push(r("nope", 200, 201));
    const res = checkKvHistory(ops, 1000);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.reason).toBe("budget_exceeded");
  });

  test("the generic checker refuses a return before its call", () => {
    expect(() => checkHistory(registerModel, [{ input: { kind: "read" }, output: null, call: 5, ret: 1 }])).toThrow("returns");
  });
});
