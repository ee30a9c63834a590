/** The job manager's books: arrays (pending elements in order, running, counts) and the reconcile gate after a registration. */
import { describe, expect, test } from "bun:test";
import { ArrayBook } from "../../../src/master/jobs/arrays.ts";
import { ReconcileGate } from "../../../src/master/jobs/gate.ts";

describe("ArrayBook", () => {
  test("elements move PEND → RUN → an end; requeued ones go back in index order; the summary appears when the last ends", () => {
    const b = new ArrayBook();
    const a = b.add(10, 2);
    for (const id of [11, 12, 13]) b.pend(10, id, null);
    expect(a.pending).toEqual([11, 12, 13]);
    b.run(10, 11, "PEND");
    b.run(10, 12, "PEND");
    expect(a).toMatchObject({ running: 2, pending: [13], counts: { PEND: 1, RUN: 2 } });
    b.pend(10, 11, "RUN");
    expect(a).toMatchObject({ running: 1, pending: [11, 13], counts: { PEND: 2, RUN: 1 } });
    expect(b.end(10, 12, "RUN", "DONE")).toBeNull();
    expect(b.end(10, 11, "PEND", "KILLED")).toBeNull();
    const done = b.end(10, 13, "PEND", "KILLED");
    expect(done?.counts).toMatchObject({ DONE: 1, KILLED: 2, PEND: 0, RUN: 0 });
    expect(b.get(10)).toBeUndefined();
  });
});

describe("ReconcileGate", () => {
  test("closed from registration until the status is reconciled and the jobs told to end have ended, or maxMs", () => {
    const g = new ReconcileGate(5000);
    g.registered(1, 0);
    expect(g.isClosed(1, 10)).toBe(true);
    g.reconciled(1, []);
    expect(g.isClosed(1, 20)).toBe(false);
    g.registered(1, 100);
    g.reconciled(1, ["7/1", "8/2"]);
    g.ended(1, "7/1");
    expect(g.isClosed(1, 200)).toBe(true);
    g.ended(1, "8/2");
    expect(g.isClosed(1, 300)).toBe(false);
    g.registered(2, 1000);
    g.reconciled(2, ["9/1"]);
    expect(g.isClosed(2, 5999)).toBe(true);
    expect(g.isClosed(2, 6000)).toBe(false);
  });
});
