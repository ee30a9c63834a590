import { describe, expect, test } from "bun:test";
import { Inflights, Progress, quorum, quorumIndex } from "../../src/raft/progress.ts";

describe("Inflights", () => {
  test("is a bounded window freed by acknowledgements", () => {
    const w = new Inflights(3);
    w.add(5);
    w.add(10);
    w.add(15);
    expect(w.full()).toBe(true);
    expect(() => w.add(20)).toThrow("full");
    w.freeLE(10);
    expect(w.count).toBe(1);
    w.add(20);
    w.add(25);
    expect(w.full()).toBe(true);
    w.freeFirstOne();
    expect(w.count).toBe(2);
    w.freeLE(100);
    expect(w.count).toBe(0);
  });
});

describe("Progress", () => {
  test("probe: one append, then paused until an answer", () => {
    const p = new Progress(2, 5, 4);
    expect(p.isPaused()).toBe(false);
    p.sentAppend(3, 7);
    expect(p.isPaused()).toBe(true);
    expect(p.next).toBe(5); // a probe does not move next optimistically
    expect(p.maybeUpdate(7)).toBe(true);
    expect(p.isPaused()).toBe(false);
  });

  test("replicate: optimistic next, paused when the window is full", () => {
    const p = new Progress(2, 1, 2);
    p.becomeReplicate();
    p.sentAppend(2, 2);
    expect(p.next).toBe(3);
    p.sentAppend(2, 4);
    expect(p.isPaused()).toBe(true);
    p.maybeUpdate(2);
    p.inflights.freeLE(2);
    expect(p.isPaused()).toBe(false);
  });

  test("a stale acknowledgement changes nothing", () => {
    const p = new Progress(2, 1, 2);
    p.maybeUpdate(5);
    expect(p.maybeUpdate(3)).toBe(false);
    expect(p.match).toBe(5);
  });

  test("maybeDecrTo: replicate falls back to match + 1; probe takes the hint, but only for the probe it sent", () => {
    const r = new Progress(2, 1, 8);
    r.match = 5;
    r.becomeReplicate();
    r.sentAppend(5, 10);
    expect(r.maybeDecrTo(4, 4)).toBe(false); // below match: stale
    expect(r.maybeDecrTo(8, 3)).toBe(true);
    expect(r.next).toBe(6);

    const p = new Progress(2, 11, 8);
    p.match = 2;
    expect(p.maybeDecrTo(7, 3)).toBe(false); // not the probe we sent (after 10)
    expect(p.maybeDecrTo(10, 4)).toBe(true);
    expect(p.next).toBe(5);
    expect(p.maybeDecrTo(4, 0)).toBe(true);
    expect(p.next).toBe(3); // never below match + 1
  });

  test("snapshot: paused; back to probe after it at the snapshot's index + 1", () => {
    const p = new Progress(2, 3, 8);
    p.becomeSnapshot(20);
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect(p.next).toBe(21);
    expect(p.state).toBe("probe");
  });
});

describe("quorum", () => {
  test("a majority of the voters", () => {
    expect([1, 2, 3, 4, 5].map(quorum)).toEqual([1, 2, 2, 3, 3]);
  });

  test("the index a majority has", () => {
    expect(quorumIndex([5, 3, 9])).toBe(5);
    expect(quorumIndex([1, 2, 3, 4])).toBe(2);
    expect(quorumIndex([7])).toBe(7);
    expect(quorumIndex([])).toBe(0);
  });
});
