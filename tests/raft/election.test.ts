/**
 * Leader election (Raft §5.2), tests named after the paper's sentences
 * like etcd's raft_paper_test.go.
 */
import { describe, expect, test } from "bun:test";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import { RawNode } from "../../src/raft/node.ts";
import { seededRng } from "../helpers/rng.ts";
import { Cluster, config, drain, forceLeader, lone, msg, storageWith } from "./harness.ts";

describe("§5.2 leader election", () => {
  test("a follower that receives no communication over an election timeout begins an election: it increments its term, votes for itself and requests votes from every other server", () => {
    const n = lone(1, [1, 2, 3]);
    n.node.tick();
    for (let i = 0; i < 2 * 10; i++) n.node.tick();
    const s = n.node.status();
    expect(s.role).toBe("candidate");
    expect(s.term).toBe(1);
    expect(s.vote).toBe(1);
    const reqs = drain(n).filter((m) => m.type === "vote");
    expect(reqs.map((m) => m.to).sort()).toEqual([2, 3]);
    expect(reqs.every((m) => m.term === 1 && m.index === 0 && m.logTerm === 0)).toBe(true);
    // The vote is persisted with the term before the requests go out (same Ready).
    expect(n.storage.hardState).toMatchObject({ term: 1, vote: 1 });
  });

  test("election timeouts are chosen randomly from [electionTick, 2 × electionTick)", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const rng = seededRng(seed);
      const node = new RawNode(config(1, new MemoryStorage({ voters: [1, 2, 3] }), { rng }));
      let ticks = 0;
      while (node.status().role === "follower") {
        node.tick();
        ticks++;
        if (ticks > 100) throw new Error("never campaigned");
      }
      seen.add(ticks);
    }
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...seen)).toBeLessThan(20);
    expect(seen.size).toBeGreaterThan(5);
  });

  test("a candidate wins an election if it receives votes from a majority of the servers, then sends every follower an append with a no-op of its term", () => {
    const n = lone(1, [1, 2, 3, 4, 5]);
    n.node.campaign();
    drain(n);
    n.node.step(msg({ type: "vote_resp", from: 2, to: 1, term: 1 }));
    expect(n.node.status().role).toBe("candidate");
    n.node.step(msg({ type: "vote_resp", from: 3, to: 1, term: 1 }));
    expect(n.node.status().role).toBe("leader");
    const apps = drain(n).filter((m) => m.type === "append");
    expect(apps.map((m) => m.to).sort()).toEqual([2, 3, 4, 5]);
    for (const a of apps) expect(a.entries).toEqual([{ index: 1, term: 1, type: "normal", data: "" }]);
  });

  test("a candidate that is rejected by a majority steps back to follower", () => {
    const n = lone(1, [1, 2, 3]);
    n.node.campaign();
    drain(n);
    n.node.step(msg({ type: "vote_resp", from: 2, to: 1, term: 1, reject: true }));
    n.node.step(msg({ type: "vote_resp", from: 3, to: 1, term: 1, reject: true }));
    expect(n.node.status().role).toBe("follower");
    expect(n.node.status().term).toBe(1);
  });

  test("while waiting for votes, a candidate that receives an append from a leader of its term recognizes it and returns to follower", () => {
    const n = lone(1, [1, 2, 3]);
    n.node.campaign();
    drain(n);
    n.node.step(msg({ type: "append", from: 2, to: 1, term: 1, index: 0, logTerm: 0, commit: 0, entries: [] }));
    expect(n.node.status()).toMatchObject({ role: "follower", leader: 2, term: 1 });
  });

  test("a candidate that neither wins nor loses times out and starts a new election with a higher term", () => {
    const n = lone(1, [1, 2, 3]);
    n.node.campaign();
    drain(n);
    for (let i = 0; i < 20; i++) n.node.tick();
    expect(n.node.status()).toMatchObject({ role: "candidate", term: 2 });
  });

  test("each server votes for at most one candidate in a given term, on a first-come-first-served basis", () => {
    const n = lone(1, [1, 2, 3]);
    n.node.step(msg({ type: "vote", from: 2, to: 1, term: 1, index: 0, logTerm: 0 }));
    n.node.step(msg({ type: "vote", from: 3, to: 1, term: 1, index: 0, logTerm: 0 }));
    // Asked again by the one it voted for (a duplicate request): it says yes again.
    n.node.step(msg({ type: "vote", from: 2, to: 1, term: 1, index: 0, logTerm: 0 }));
    const resps = drain(n).filter((m) => m.type === "vote_resp");
    expect(resps.map((m) => [m.to, m.reject === true])).toEqual([
      [2, false],
      [3, true],
      [2, false],
    ]);
    expect(n.storage.hardState).toMatchObject({ term: 1, vote: 2 });
  });

  test("a server that sees a higher term in any message adopts it and becomes a follower", () => {
    for (const type of ["append", "heartbeat", "vote_resp", "append_resp", "heartbeat_resp"] as const) {
      const n = lone(1, [1, 2, 3]);
      forceLeader(n);
      drain(n);
      n.node.step(msg({ type, from: 2, to: 1, term: 5, index: 0, logTerm: 0, commit: 0 }));
      const s = n.node.status();
      expect([type, s.role, s.term]).toEqual([type, "follower", 5]);
      expect(s.leader).toBe(type === "append" || type === "heartbeat" ? 2 : 0);
    }
  });

  test("a server rejects a request with a stale term number", () => {
    const n = lone(1, [1, 2, 3], {}, storageWith([1, 2, 3], [1, 2], 3));
    n.node.step(msg({ type: "vote", from: 2, to: 1, term: 2, index: 5, logTerm: 2 }));
    n.node.step(msg({ type: "append", from: 2, to: 1, term: 2, index: 2, logTerm: 2, commit: 2, entries: [] }));
    expect(drain(n).filter((m) => m.type === "vote_resp" && !m.reject)).toEqual([]);
    expect(n.node.status()).toMatchObject({ term: 3, commit: 0 });
  });

  test("a candidate needs a majority of the voters: with two of five down no one else can help, with three down it cannot win", () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.stop(4);
    c.stop(5);
    c.elect(1);
    expect(c.leaders()).toEqual([1]);
    const d = new Cluster([1, 2, 3, 4, 5]);
    d.stop(3);
    d.stop(4);
    d.stop(5);
    d.elect(1);
    expect(d.leaders()).toEqual([]);
  });

  test("campaign() starts an election at once (the bootstrap hint), and a single voter wins it alone", () => {
    const n = lone(1, [1]);
    n.node.campaign();
    expect(n.node.status().role).toBe("leader");
  });

  test("a node that is not a voter never campaigns", () => {
    const n = lone(4, [1, 2, 3]);
    for (let i = 0; i < 100; i++) n.node.tick();
    n.node.campaign();
    expect(n.node.status().role).toBe("follower");
    expect(drain(n)).toEqual([]);
  });
});

describe("§5.4.1 election restriction", () => {
  // The voter's log: terms 1, 1, 2 (last index 3, last term 2).
  const cases: [string, number, number, boolean][] = [
    ["a later last term wins even with a shorter log", 1, 3, true],
    ["the same last term and a longer log wins", 4, 2, true],
    ["the same last term and the same length wins", 3, 2, true],
    ["the same last term and a shorter log loses", 2, 2, false],
    ["an earlier last term loses even with a longer log", 10, 1, false],
  ];
  for (const [name, index, logTerm, granted] of cases) {
    test(`the voter denies its vote if its own log is more up-to-date: ${name}`, () => {
      const n = lone(1, [1, 2, 3], {}, storageWith([1, 2, 3], [1, 1, 2]));
      n.node.step(msg({ type: "vote", from: 2, to: 1, term: 3, index, logTerm }));
      const resp = drain(n).find((m) => m.type === "vote_resp")!;
      expect(resp.reject === true).toBe(!granted);
      expect(resp.term).toBe(3);
    });
  }

  test("a node with a stale log cannot be elected: the up-to-date voters refuse it", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.stop(3);
    c.propose(1, "a");
    c.propose(1, "b");
    c.stop(1);
    c.restart(3);
    c.elect(3);
    expect(c.raw(3).status().role).not.toBe("leader");
    c.elect(2);
    expect(c.leaders()).toEqual([2]);
  });
});

describe("stale vote requests", () => {
  test("a server answers a vote request of a stale term with its own term, and the candidate catches up", () => {
    // Node 1 is stuck in a high term with a configuration {1, 3} whose other member is gone;
    // node 2, configuration {1, 2}, has the better log. 1 never writes to 2 by itself.
    const c = new Cluster([]);
    c.add(1, {}, storageWith([1, 3], [1], 30));
    c.add(2, {}, storageWith([1, 2], [1, 2], 5));
    c.raw(2).campaign();
    c.stabilize();
    expect(c.raw(2).status()).toMatchObject({ role: "follower", term: 30 });
    c.raw(2).campaign();
    c.stabilize();
    expect(c.raw(2).status()).toMatchObject({ role: "leader", term: 31 });
  });
});
