/**
 * Pre-vote (dissertation §9.6) and check-quorum with the leader lease
 * (dissertation §6.2, §4.2.3).
 */
import { describe, expect, test } from "bun:test";
import { Cluster, drain, forceLeader, lone, msg } from "./harness.ts";

describe("pre-vote", () => {
  test("a pre-candidate asks for votes in the next term without adopting it", () => {
    const n = lone(1, [1, 2, 3], { preVote: true });
    n.node.campaign();
    expect(n.node.status()).toMatchObject({ role: "pre_candidate", term: 0, vote: 0 });
    const reqs = drain(n).filter((m) => m.type === "prevote");
    expect(reqs.length).toBe(2);
    expect(reqs.every((m) => m.term === 1)).toBe(true);
    expect(n.storage.hardState.term).toBe(0);
  });

  test("granted by a majority, it runs the real election", () => {
    const n = lone(1, [1, 2, 3], { preVote: true });
    n.node.campaign();
    drain(n);
    n.node.step(msg({ type: "prevote_resp", from: 2, to: 1, term: 1 }));
    expect(n.node.status()).toMatchObject({ role: "candidate", term: 1, vote: 1 });
    expect(drain(n).filter((m) => m.type === "vote").length).toBe(2);
  });

  test("refused by a majority, it goes back to follower in its old term", () => {
    const n = lone(1, [1, 2, 3], { preVote: true });
    n.node.campaign();
    drain(n);
    n.node.step(msg({ type: "prevote_resp", from: 2, to: 1, term: 0, reject: true }));
    n.node.step(msg({ type: "prevote_resp", from: 3, to: 1, term: 0, reject: true }));
    expect(n.node.status()).toMatchObject({ role: "follower", term: 0 });
  });

  test("answering a pre-vote changes neither the voter's term nor its vote", () => {
    const n = lone(1, [1, 2, 3], { preVote: true });
    n.node.step(msg({ type: "prevote", from: 2, to: 1, term: 1, index: 0, logTerm: 0 }));
    n.node.step(msg({ type: "prevote", from: 3, to: 1, term: 1, index: 0, logTerm: 0 }));
    const resps = drain(n).filter((m) => m.type === "prevote_resp");
    expect(resps.map((m) => [m.to, m.term, m.reject === true])).toEqual([
      [2, 1, false],
      [3, 1, false],
    ]);
    expect(n.node.status()).toMatchObject({ term: 0, vote: 0 });
  });

  test("a partitioned node that rejoins does not bump the cluster's term", () => {
    const c = new Cluster([1, 2, 3], { preVote: true });
    c.elect(1);
    const term = c.raw(1).status().term;
    c.isolate(3);
    for (let i = 0; i < 100; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.raw(3).status().term).toBe(term);
    c.heal();
    c.tickAll();
    c.stabilize();
    expect(c.leaders()).toEqual([1]);
    expect(c.raw(2).status().term).toBe(term);
  });

  test("without pre-vote the same partition forces an election with a higher term", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const term = c.raw(1).status().term;
    c.isolate(3);
    for (let i = 0; i < 40; i++) c.tick(3);
    c.stabilize();
    expect(c.raw(3).status().term).toBeGreaterThan(term);
    c.heal();
    c.tick(3, 40);
    c.stabilize();
    expect(c.raw(1).status().term).toBeGreaterThan(term);
  });
});

describe("check quorum", () => {
  test("a leader that has not heard from a quorum for an election timeout steps down", () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.elect(1);
    c.isolate(1);
    for (let i = 0; i < 10; i++) {
      c.tick(1);
      c.stabilize();
    }
    // The first check counts what it heard before the partition; the second finds no one.
    for (let i = 0; i < 10; i++) {
      c.tick(1);
      c.stabilize();
    }
    expect(c.raw(1).status().role).toBe("follower");
  });

  test("a leader that hears from a quorum stays", () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.elect(1);
    c.stop(3);
    for (let i = 0; i < 50; i++) {
      c.tick(1);
      c.stabilize();
    }
    expect(c.raw(1).status().role).toBe("leader");
  });

  test("a follower that heard from its leader within the election timeout ignores a (pre)vote request of a higher term (leader lease)", () => {
    for (const type of ["vote", "prevote"] as const) {
      const n = lone(1, [1, 2, 3], { checkQuorum: true, preVote: true });
      n.node.step(msg({ type: "heartbeat", from: 2, to: 1, term: 1, commit: 0 }));
      drain(n);
      n.node.step(msg({ type, from: 3, to: 1, term: 2, index: 10, logTerm: 1 }));
      expect(drain(n)).toEqual([]);
      expect(n.node.status()).toMatchObject({ term: 1, leader: 2 });
      // Once the lease ran out, it answers.
      for (let i = 0; i < 10; i++) n.node.tick();
      n.node.step(msg({ type, from: 3, to: 1, term: 2, index: 10, logTerm: 1 }));
      expect(drain(n).filter((m) => m.type === `${type}_resp` && !m.reject).length).toBe(1);
    }
  });

  test("a campaign forced by timeout_now passes the lease", () => {
    const n = lone(1, [1, 2, 3], { checkQuorum: true });
    n.node.step(msg({ type: "heartbeat", from: 2, to: 1, term: 1, commit: 0 }));
    drain(n);
    n.node.step(msg({ type: "vote", from: 3, to: 1, term: 2, index: 0, logTerm: 0, context: "transfer" }));
    const resp = drain(n).find((m) => m.type === "vote_resp")!;
    expect(resp.reject).toBeUndefined();
    expect(n.node.status()).toMatchObject({ term: 2, vote: 3 });
  });

  test("a leader stuck in an old term learns the new term from a follower's answer to its append, and steps down", () => {
    const n = lone(1, [1, 2, 3], { checkQuorum: true });
    n.node.step(msg({ type: "heartbeat", from: 2, to: 1, term: 5, commit: 0 }));
    drain(n);
    n.node.step(msg({ type: "append", from: 3, to: 1, term: 4, index: 0, logTerm: 0, commit: 0, entries: [] }));
    const resp = drain(n).find((m) => m.to === 3)!;
    expect(resp).toMatchObject({ type: "append_resp", term: 5 });
    const old = lone(3, [1, 2, 3], { checkQuorum: true });
    forceLeader(old);
    drain(old);
    old.node.step(resp);
    expect(old.node.status()).toMatchObject({ role: "follower", term: 5 });
  });

  test("with check quorum, a partitioned leader and a rejoining node settle on one leader", () => {
    const c = new Cluster([1, 2, 3, 4, 5], { checkQuorum: true, preVote: true });
    c.elect(1);
    c.isolate(1);
    for (let i = 0; i < 60; i++) {
      c.tickAll();
      c.stabilize();
    }
    const leaders = c.leaders();
    expect(leaders.length).toBe(1);
    expect(leaders[0]).not.toBe(1);
    c.heal();
    for (let i = 0; i < 30; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.leaders()).toEqual(leaders);
    expect(c.raw(1).status().leader).toBe(leaders[0]!);
  });
});
