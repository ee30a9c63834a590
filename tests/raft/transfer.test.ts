/**
 * Leadership transfer (dissertation §3.10): the leader brings the target
 * up to date, then tells it to campaign at once (timeout_now).
 */
import { describe, expect, test } from "bun:test";
import { Cluster, drain, forceLeader, lone, msg } from "./harness.ts";

describe("§3.10 leadership transfer", () => {
  test("to an up-to-date follower: timeout_now, it wins the next term, the old leader follows it", () => {
    const c = new Cluster([1, 2, 3], { preVote: true, checkQuorum: true });
    c.elect(1);
    c.propose(1, "x");
    expect(c.raw(1).transferLeader(2)).toEqual({ ok: true });
    c.stabilize();
    expect(c.leaders()).toEqual([2]);
    expect(c.raw(1).status()).toMatchObject({ role: "follower", leader: 2 });
    expect(c.delivered.some((m) => m.type === "timeout_now" && m.to === 2)).toBe(true);
    // It skipped pre-vote and the others' lease.
    expect(c.delivered.some((m) => m.type === "vote" && m.context === "transfer")).toBe(true);
  });

  test("to a lagging follower: the leader catches it up first", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.stop(3);
    for (let i = 0; i < 5; i++) c.propose(1, `p${i}`);
    c.restart(3);
    c.raw(1).transferLeader(3);
    c.stabilize();
    c.tickAll();
    c.stabilize();
    expect(c.leaders()).toEqual([3]);
    expect(c.get(3).appliedData()).toEqual(["p0", "p1", "p2", "p3", "p4"]);
  });

  test("while a transfer is under way the leader takes no proposals", () => {
    const n = lone(1, [1, 2, 3]);
    forceLeader(n);
    drain(n);
    n.node.transferLeader(2);
    expect(n.node.propose("x")).toEqual({ ok: false, error: "transfer_in_progress", leader: 1 });
    expect(n.node.status().leadTransferee).toBe(2);
  });

  test("a transfer that does not finish within an election timeout is given up", () => {
    const n = lone(1, [1, 2, 3]);
    forceLeader(n);
    drain(n);
    n.node.transferLeader(2);
    for (let i = 0; i < 10; i++) n.node.tick();
    expect(n.node.status().leadTransferee).toBe(0);
    expect(n.node.propose("x").ok).toBe(true);
  });

  test("a transfer to a node that is not a voter is refused; to itself it is a no-op; on a follower not_leader", () => {
    const n = lone(1, [1, 2, 3]);
    forceLeader(n);
    expect(n.node.transferLeader(9)).toMatchObject({ ok: false, error: "invalid_request" });
    expect(n.node.transferLeader(1)).toEqual({ ok: true });
    expect(n.node.status().leadTransferee).toBe(0);
    expect(lone(2, [1, 2, 3]).node.transferLeader(3)).toEqual({ ok: false, error: "not_leader", leader: 0 });
  });

  test("timeout_now makes a follower campaign at once, skipping pre-vote", () => {
    const n = lone(2, [1, 2, 3], { preVote: true });
    n.node.step(msg({ type: "heartbeat", from: 1, to: 2, term: 1, commit: 0 }));
    drain(n);
    n.node.step(msg({ type: "timeout_now", from: 1, to: 2, term: 1 }));
    expect(n.node.status()).toMatchObject({ role: "candidate", term: 2 });
    const votes = drain(n).filter((m) => m.type === "vote");
    expect(votes.every((m) => m.context === "transfer")).toBe(true);
  });

  test("a node that is not a voter ignores timeout_now", () => {
    const n = lone(4, [1, 2, 3]);
    n.node.step(msg({ type: "timeout_now", from: 1, to: 4, term: 1 }));
    expect(n.node.status().role).toBe("follower");
  });
});
