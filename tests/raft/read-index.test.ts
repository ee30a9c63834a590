/**
 * Linearizable reads by read index (dissertation §6.4).
 */
import { describe, expect, test } from "bun:test";
import { Cluster, drain, forceLeader, lone, msg } from "./harness.ts";

/** A leader of 1,2,3 that has committed its no-op. */
function leader() {
  const n = lone(1, [1, 2, 3]);
  forceLeader(n);
  drain(n);
  n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 1 }));
  drain(n);
  expect(n.node.status().commit).toBe(1);
  return n;
}

describe("§6.4 read index", () => {
  test("the leader records its commit index, confirms its leadership with a heartbeat round, and answers once a quorum acknowledged it", () => {
    const n = leader();
    expect(n.node.readIndex("r1")).toEqual({ ok: true });
    const hbs = drain(n).filter((m) => m.type === "heartbeat");
    expect(hbs.length).toBe(2);
    const round = hbs[0]!.context!;
    expect(round).toBeDefined();
    expect(n.readStates).toEqual([]);
    n.node.step(msg({ type: "heartbeat_resp", from: 3, to: 1, term: 1, context: round }));
    drain(n);
    expect(n.readStates).toEqual([{ index: 1, context: "r1" }]);
  });

  test("an acknowledgement without the round's context confirms nothing", () => {
    const n = leader();
    n.node.readIndex("r1");
    drain(n);
    n.node.step(msg({ type: "heartbeat_resp", from: 3, to: 1, term: 1 }));
    n.node.step(msg({ type: "heartbeat_resp", from: 2, to: 1, term: 1, context: "read:999" }));
    drain(n);
    expect(n.readStates).toEqual([]);
  });

  test("a round confirms every read that arrived before it", () => {
    const n = leader();
    n.node.readIndex("a");
    n.node.readIndex("b");
    const rounds = drain(n).filter((m) => m.type === "heartbeat" && m.to === 2).map((m) => m.context!);
    expect(new Set(rounds).size).toBe(2);
    n.node.step(msg({ type: "heartbeat_resp", from: 2, to: 1, term: 1, context: rounds[1]! }));
    drain(n);
    expect(n.readStates.map((r) => r.context)).toEqual(["a", "b"]);
  });

  test("a round whose heartbeats were lost is carried again by the next heartbeat", () => {
    const n = leader();
    n.node.readIndex("r1");
    drain(n); // lost
    n.node.tick();
    const hb = drain(n).find((m) => m.type === "heartbeat" && m.to === 2)!;
    n.node.step(msg({ type: "heartbeat_resp", from: 2, to: 1, term: 1, context: hb.context! }));
    drain(n);
    expect(n.readStates.map((r) => r.context)).toEqual(["r1"]);
  });

  test("a new leader answers no read until it has committed an entry of its term", () => {
    const n = lone(1, [1, 2, 3]);
    forceLeader(n);
    drain(n);
    n.node.readIndex("early");
    expect(drain(n).filter((m) => m.type === "heartbeat")).toEqual([]);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 1 }));
    const hb = drain(n).find((m) => m.type === "heartbeat" && m.to === 2)!;
    n.node.step(msg({ type: "heartbeat_resp", from: 2, to: 1, term: 1, context: hb.context! }));
    drain(n);
    expect(n.readStates).toEqual([{ index: 1, context: "early" }]);
  });

  test("a single voter answers at once", () => {
    const n = lone(1, [1]);
    n.node.campaign();
    drain(n);
    n.node.propose("x");
    n.node.readIndex("r");
    drain(n);
    expect(n.readStates).toEqual([{ index: 2, context: "r" }]);
  });

  test("a follower forwards the read to its leader and emits the ReadState from the answer", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "x");
    expect(c.raw(2).readIndex("f1")).toEqual({ ok: true });
    c.stabilize();
    c.tickAll();
    c.stabilize();
    expect(c.get(2).readStates).toEqual([{ index: 2, context: "f1" }]);
    expect(c.get(1).readStates).toEqual([]);
  });

  test("a node that knows no leader refuses the read", () => {
    const n = lone(2, [1, 2, 3]);
    expect(n.node.readIndex("r")).toEqual({ ok: false, error: "not_leader", leader: 0 });
  });

  test("pending reads are dropped when leadership is lost", () => {
    const n = leader();
    n.node.readIndex("r1");
    const round = drain(n).find((m) => m.type === "heartbeat")!.context!;
    n.node.step(msg({ type: "heartbeat", from: 2, to: 1, term: 2, commit: 1 }));
    n.node.step(msg({ type: "heartbeat_resp", from: 3, to: 1, term: 2, context: round }));
    drain(n);
    expect(n.readStates).toEqual([]);
  });

  test("the queue of reads waiting at a leader is bounded", () => {
    const n = lone(1, [1, 2, 3], { maxPendingReads: 2 });
    forceLeader(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 1 }));
    expect(n.node.readIndex("a").ok).toBe(true);
    expect(n.node.readIndex("b").ok).toBe(true);
    expect(n.node.readIndex("c")).toMatchObject({ ok: false, error: "no_quorum_yet" });
    expect(n.node.readIndex("x".repeat(2000))).toMatchObject({ ok: false, error: "invalid_request" });
  });

  test("a read confirmed by the leader is served where the state machine has applied its index", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "x");
    c.raw(1).readIndex("r");
    c.stabilize();
    const rs = c.get(1).readStates[0]!;
    expect(rs.index).toBe(2);
    expect(c.get(1).applied.at(-1)!.index).toBeGreaterThanOrEqual(rs.index);
  });
});
