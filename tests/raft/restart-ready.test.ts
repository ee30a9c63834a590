/**
 * The Ready contract (types.ts) and restarting from storage.
 */
import { describe, expect, test } from "bun:test";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import { RawNode } from "../../src/raft/node.ts";
import { Cluster, config, drain, lone, msg, storageWith } from "./harness.ts";

describe("Ready", () => {
  test("softState and hardState appear only when they change", () => {
    const n = lone(1, [1, 2, 3]);
    expect(n.node.hasReady()).toBe(false);
    n.node.campaign();
    const rd = n.node.ready();
    expect(rd.softState).toEqual({ leader: 0, role: "candidate" });
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    n.node.advance(rd);
    n.node.step(msg({ type: "vote_resp", from: 2, to: 1, term: 1, reject: true }));
    expect(n.node.hasReady()).toBe(false);
    n.node.step(msg({ type: "vote_resp", from: 3, to: 1, term: 1 }));
    const rd2 = n.node.ready();
    expect(rd2.softState).toEqual({ leader: 1, role: "leader" });
    expect(rd2.hardState).toBeUndefined();
    expect(rd2.entries.length).toBe(1);
  });

  test("messages, entries and read states are handed out once", () => {
    const n = lone(1, [1]);
    n.node.campaign();
    const rd = n.node.ready();
    n.storage.append(rd.entries);
    n.node.advance(rd);
    expect(n.node.hasReady()).toBe(false);
    n.node.readIndex("r");
    const rd2 = n.node.ready();
    expect(rd2.readStates).toEqual([{ index: 1, context: "r" }]);
    n.node.advance(rd2);
    expect(n.node.hasReady()).toBe(false);
  });

  test("a second ready() before advance() is a programmer error", () => {
    const n = lone(1, [1]);
    n.node.campaign();
    n.node.ready();
    expect(() => n.node.ready()).toThrow("advance");
  });

  test("the node may be stepped between ready() and advance(); what it appends then comes in the next Ready", () => {
    const n = lone(1, [1]);
    n.node.campaign();
    const rd = n.node.ready();
    n.node.propose("during");
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    n.node.advance(rd);
    const rd2 = n.node.ready();
    expect(rd2.entries.map((e) => e.data)).toEqual(["during"]);
    expect(rd2.committedEntries.map((e) => e.data)).toEqual(["during"]);
  });

  test("after advance the entries are read back from storage", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    for (let i = 0; i < 3; i++) c.propose(1, `p${i}`);
    c.stop(3);
    c.restart(3);
    c.tickAll();
    c.stabilize();
    // Node 3's restart re-read everything from its storage; the leader serves entries from its own.
    expect(c.get(3).appliedData()).toEqual(["p0", "p1", "p2"]);
  });
});

describe("restart from storage", () => {
  test("a restarted node recovers its term, vote, log and commit index", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "x");
    c.tickAll();
    c.stabilize();
    const before = c.raw(2).status();
    c.stop(2);
    const after = c.restart(2).node.status();
    expect(after).toMatchObject({ term: before.term, vote: before.vote, commit: before.commit, lastIndex: before.lastIndex, role: "follower", leader: 0 });
  });

  test("a restarted node does not vote twice in a term", () => {
    const s = new MemoryStorage({ voters: [1, 2, 3] });
    const n = lone(1, [1, 2, 3], {}, s);
    n.node.step(msg({ type: "vote", from: 2, to: 1, term: 4, index: 0, logTerm: 0 }));
    drain(n);
    const again = new RawNode(config(1, s));
    again.step(msg({ type: "vote", from: 3, to: 1, term: 4, index: 0, logTerm: 0 }));
    const rd = again.ready();
    expect(rd.messages.find((m) => m.type === "vote_resp")?.reject).toBe(true);
  });

  test("cfg.applied: committed entries are handed out after it", () => {
    const s = storageWith([1, 2, 3], [1, 1, 1, 1, 1]);
    s.setHardState({ term: 1, vote: 0, commit: 5 });
    const n = new RawNode(config(1, s, { applied: 3 }));
    const rd = n.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([4, 5]);
    expect(n.status().applied).toBe(3);
  });

  test("what the application applied counts as committed even if the stored commit index lags", () => {
    const s = storageWith([1, 2, 3], [1, 1, 1]);
    s.setHardState({ term: 1, vote: 0, commit: 1 });
    const n = new RawNode(config(1, s, { applied: 3 }));
    expect(n.status()).toMatchObject({ commit: 3, applied: 3 });
  });

  test("a restart after a snapshot starts the log after it", () => {
    const s = storageWith([1, 2, 3], [1, 1, 1, 1]);
    s.setHardState({ term: 1, vote: 0, commit: 4 });
    s.createSnapshot(3, { voters: [1, 2, 3] }, "sm");
    s.compact(3);
    const n = new RawNode(config(1, s, { applied: 0 }));
    expect(n.status()).toMatchObject({ applied: 3, commit: 4, lastIndex: 4 });
    expect(n.ready().committedEntries.map((e) => e.index)).toEqual([4]);
  });

  test("a storage that lost acknowledged entries, or an applied index past the log, is refused with what went wrong", () => {
    const s = storageWith([1, 2, 3], [1]);
    s.setHardState({ term: 1, vote: 0, commit: 4 });
    expect(() => new RawNode(config(1, s))).toThrow("lost entries");
    expect(() => new RawNode(config(1, storageWith([1], [1]), { applied: 9 }))).toThrow("cfg.applied");
  });

  test("bad configuration is refused naming the field", () => {
    const s = new MemoryStorage({ voters: [1] });
    expect(() => new RawNode(config(0, s))).toThrow("RaftConfig.id");
    expect(() => new RawNode(config(1, s, { heartbeatTick: 10, electionTick: 10 }))).toThrow("RaftConfig.heartbeatTick");
    expect(() => new RawNode(config(1, s, { maxInflightMsgs: 0 }))).toThrow("RaftConfig.maxInflightMsgs");
  });

  test("a restarted leader comes back as a follower and a new election settles the cluster", () => {
    const c = new Cluster([1, 2, 3], { preVote: true, checkQuorum: true });
    c.elect(1);
    c.propose(1, "x");
    c.stop(1);
    c.restart(1);
    for (let i = 0; i < 40 && c.leaders().length === 0; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.leaders().length).toBe(1);
  });
});
