/**
 * Log replication (Raft §5.3) and flow control: batching, pipelining
 * with bounded inflights, probe/replicate, fast backtracking.
 */
import { describe, expect, test } from "bun:test";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import type { Message } from "../../src/raft/types.ts";
import { Cluster, drain, ents, forceLeader, lone, msg, storageWith } from "./harness.ts";

describe("§5.3 log replication", () => {
  test("the leader appends the command to its log, sends appends in parallel, and commits it once a majority has it", () => {
    const n = lone(1, [1, 2, 3, 4, 5]);
    forceLeader(n);
    drain(n);
    // The followers take the no-op: the leader knows where they are (replicate state).
    for (const f of [2, 3, 4, 5]) n.node.step(msg({ type: "append_resp", from: f, to: 1, term: 1, index: 1 }));
    drain(n);
    const r = n.node.propose("x");
    expect(r).toEqual({ ok: true, index: 2, term: 1 });
    const apps = drain(n).filter((m) => m.type === "append");
    expect(apps.map((m) => m.to).sort()).toEqual([2, 3, 4, 5]);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 2 }));
    expect(n.node.status().commit).toBe(1);
    n.node.step(msg({ type: "append_resp", from: 3, to: 1, term: 1, index: 2 }));
    expect(n.node.status().commit).toBe(2);
    // The new commit index goes out, and the entries are applied.
    const out = drain(n);
    expect(out.filter((m) => m.type === "append" && m.commit === 2).length).toBe(4);
    expect(n.appliedData()).toEqual(["x"]);
  });

  test("without commitBroadcast a new commit index is not sent at once: the next heartbeat carries it and the followers apply", () => {
    const c = new Cluster([1, 2, 3], { commitBroadcast: false });
    c.elect(1);
    c.stabilize();
    c.propose(1, "x");
    // Appends out, answers back: committed on the leader, but no append goes out just for the commit.
    const leader = c.get(1);
    c.stabilize();
    expect(leader.appliedData()).toEqual(["x"]);
    expect(c.get(2).appliedData()).toEqual([]);
    const n = lone(1, [1, 2, 3], { commitBroadcast: false });
    forceLeader(n);
    drain(n);
    for (const f of [2, 3]) n.node.step(msg({ type: "append_resp", from: f, to: 1, term: 1, index: 1 }));
    drain(n);
    n.node.propose("y");
    drain(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 2 }));
    expect(n.node.status().commit).toBe(2);
    expect(drain(n).filter((m) => m.type === "append")).toEqual([]);
    // The heartbeat round brings it to the followers.
    c.tickAll();
    c.stabilize();
    for (const id of [2, 3]) expect(c.get(id).appliedData()).toEqual(["x"]);
  });

  test("followers apply committed entries in log order", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    for (const d of ["a", "b", "c"]) c.propose(1, d);
    c.tickAll();
    c.stabilize();
    for (const id of [1, 2, 3]) expect(c.get(id).appliedData()).toEqual(["a", "b", "c"]);
    expect(c.get(2).applied.map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });

  // The follower's log: (1,1) (2,2), commit 1. Appends with (prev index, prev term):
  const checks: [string, number, number, boolean, number?][] = [
    ["the empty prefix", 0, 0, true],
    ["a matching first entry", 1, 1, true],
    ["a matching last entry", 2, 2, true],
    ["the right index with the wrong term", 2, 1, false, 1],
    ["an index past its log", 3, 3, false, 2],
  ];
  for (const [name, index, logTerm, ok, hint] of checks) {
    test(`a follower accepts an append only if it has the previous entry with the same index and term: ${name}`, () => {
      const n = lone(2, [1, 2, 3], {}, storageWith([1, 2, 3], [1, 2]));
      n.node.step(msg({ type: "append", from: 1, to: 2, term: 2, index, logTerm, commit: 1, entries: [] }));
      const resp = drain(n).find((m) => m.type === "append_resp")!;
      expect(resp.reject === true).toBe(!ok);
      if (!ok) expect(resp.rejectHint).toBe(hint!);
    });
  }

  // The follower's log: (1,1) (2,2). Append after (index, term) the entries; result.
  const appends: [string, number, number, [number, number][], number[]][] = [
    ["new entries go after the last", 2, 2, [[3, 3]], [1, 2, 3]],
    ["a conflicting suffix is replaced", 1, 1, [[2, 3], [3, 4]], [1, 3, 4]],
    ["entries it already has change nothing", 0, 0, [[1, 1]], [1, 2]],
    ["a matching prefix is kept, the rest appended", 0, 0, [[1, 1], [2, 2], [3, 3]], [1, 2, 3]],
  ];
  for (const [name, index, logTerm, es, want] of appends) {
    test(`if an existing entry conflicts with a new one, the follower deletes it and all that follow, then appends: ${name}`, () => {
      const n = lone(2, [1, 2, 3], {}, storageWith([1, 2, 3], [1, 2]));
      const entries = es.map(([i, t]) => ({ index: i, term: t, type: "normal" as const, data: `n${i}.${t}` }));
      n.node.step(msg({ type: "append", from: 1, to: 2, term: 4, index, logTerm, commit: 0, entries }));
      drain(n);
      expect(n.log().map((e) => e.term)).toEqual(want);
    });
  }

  test("a stale duplicate of an earlier append does not truncate entries that came after it", () => {
    const n = lone(2, [1, 2, 3]);
    const e = ents(1, 1, 1, 1);
    const first: Message = msg({ type: "append", from: 1, to: 2, term: 1, index: 0, logTerm: 0, commit: 0, entries: e.slice(0, 2) });
    n.node.step(first);
    n.node.step(msg({ type: "append", from: 1, to: 2, term: 1, index: 2, logTerm: 1, commit: 0, entries: e.slice(2) }));
    n.node.step(first);
    const resps = drain(n).filter((m) => m.type === "append_resp");
    expect(n.log().length).toBe(4);
    expect(resps.map((m) => m.index)).toEqual([2, 4, 2]);
  });

  test("an append below the follower's commit is answered with its commit index", () => {
    const s = storageWith([1, 2, 3], [1, 1, 1]);
    s.setHardState({ term: 1, vote: 0, commit: 3 });
    const n = lone(2, [1, 2, 3], {}, s);
    n.node.step(msg({ type: "append", from: 1, to: 2, term: 1, index: 1, logTerm: 1, commit: 3, entries: [] }));
    expect(drain(n).find((m) => m.type === "append_resp")).toMatchObject({ index: 3 });
  });

  test("the leader brings every follower's log into agreement with its own (Figure 7)", () => {
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers = {
      a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      b: [1, 1, 1, 4],
      c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      e: [1, 1, 1, 4, 4, 4, 4],
      f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    for (const [name, log] of Object.entries(followers)) {
      const c = new Cluster([]);
      c.add(1, {}, storageWith([1, 2, 3], leaderLog, 7));
      c.add(2, {}, storageWith([1, 2, 3], log, 7));
      c.add(3, {}, new MemoryStorage({ voters: [1, 2, 3] }));
      c.raw(1).campaign();
      c.stabilize();
      expect([name, c.leaders()]).toEqual([name, [1]]);
      c.propose(1, "x");
      c.tickAll();
      c.stabilize();
      const want = c.get(1).log().map((e) => [e.index, e.term, e.data]);
      expect([name, c.get(2).log().map((e) => [e.index, e.term, e.data])]).toEqual([name, want]);
      // Fast backtracking: a handful of rejections, not one per entry.
      const rejections = c.delivered.filter((m) => m.type === "append_resp" && m.reject && m.from === 2).length;
      expect([name, rejections <= 3]).toEqual([name, true]);
    }
  });
});

describe("flow control", () => {
  test("an append carries at most maxEntriesPerMsg entries", () => {
    const c = new Cluster([1, 2], { maxEntriesPerMsg: 4 });
    c.elect(1);
    c.stop(2);
    for (let i = 0; i < 10; i++) c.raw(1).propose(`p${i}`);
    c.stabilize();
    c.restart(2);
    c.tickAll();
    c.stabilize();
    const sizes = c.delivered.filter((m) => m.type === "append" && m.to === 2).map((m) => m.entries?.length ?? 0);
    expect(Math.max(...sizes)).toBe(4);
    expect(c.get(2).appliedData().length).toBe(10);
  });

  test("in replicate state appends are pipelined up to maxInflightMsgs unanswered", () => {
    const n = lone(1, [1, 2], { maxInflightMsgs: 3, maxEntriesPerMsg: 1 });
    forceLeader(n);
    drain(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 1 }));
    drain(n);
    for (let i = 0; i < 10; i++) n.node.propose(`p${i}`);
    const apps = drain(n).filter((m) => m.type === "append");
    expect(apps.length).toBe(3);
    expect(n.node.status().progress.find((p) => p.id === 2)).toMatchObject({ state: "replicate", next: 5 });
    // An answer frees the window: more go out.
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 3 }));
    expect(drain(n).filter((m) => m.type === "append").length).toBe(2);
  });

  test("in probe state the leader sends one append and waits for its answer or the next heartbeat response", () => {
    const n = lone(1, [1, 2]);
    forceLeader(n);
    drain(n);
    for (let i = 0; i < 3; i++) n.node.propose(`p${i}`);
    expect(drain(n).filter((m) => m.type === "append").length).toBe(0);
    n.node.step(msg({ type: "heartbeat_resp", from: 2, to: 1, term: 1 }));
    expect(drain(n).filter((m) => m.type === "append").length).toBe(1);
    n.node.propose("more");
    expect(drain(n).filter((m) => m.type === "append").length).toBe(0);
  });

  test("appends lost in replicate state are sent again after a heartbeat round finds the gap", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    let dropping = true;
    c.filter = (m) => dropping && m.type === "append" && m.to === 3;
    c.propose(1, "a");
    c.propose(1, "b");
    dropping = false;
    expect(c.get(3).appliedData()).toEqual([]);
    c.tickAll();
    c.stabilize();
    c.tickAll();
    c.stabilize();
    expect(c.get(3).appliedData()).toEqual(["a", "b"]);
  });

  test("heartbeats carry min(the follower's match, the leader's commit)", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.stop(3);
    c.propose(1, "a");
    c.raw(1).tick();
    const hbs = c.take("heartbeat");
    expect(hbs.find((m) => m.to === 2)?.commit).toBe(2);
    expect(hbs.find((m) => m.to === 3)?.commit).toBe(1);
  });

  test("a follower that has no entry at a heartbeat's commit index does not commit it", () => {
    const n = lone(2, [1, 2, 3], {}, storageWith([1, 2, 3], [1]));
    n.node.step(msg({ type: "heartbeat", from: 1, to: 2, term: 1, commit: 5 }));
    expect(n.node.status().commit).toBe(0);
    n.node.step(msg({ type: "heartbeat", from: 1, to: 2, term: 1, commit: 1 }));
    expect(n.node.status().commit).toBe(1);
  });
});

describe("progress transitions", () => {
  test("a probe answered at exactly the follower's match moves it to replicate", () => {
    const n = lone(1, [1, 2]);
    forceLeader(n);
    drain(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 1 }));
    drain(n);
    n.node.reportUnreachable(2);
    expect(n.node.status().progress.find((p) => p.id === 2)?.state).toBe("probe");
    n.node.step(msg({ type: "heartbeat_resp", from: 2, to: 1, term: 1 }));
    drain(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 1 }));
    expect(n.node.status().progress.find((p) => p.id === 2)?.state).toBe("replicate");
  });

  test("reportUnreachable puts a replicating follower back to probing", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.raw(1).status().progress.find((p) => p.id === 2)?.state).toBe("replicate");
    c.raw(1).reportUnreachable(2);
    expect(c.raw(1).status().progress.find((p) => p.id === 2)?.state).toBe("probe");
    c.raw(2).reportUnreachable(1); // not a leader: nothing to do
  });
});
