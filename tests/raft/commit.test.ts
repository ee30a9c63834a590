/**
 * Commitment (Raft §5.3, §5.4.2) and the Ready contract around it.
 */
import { describe, expect, test } from "bun:test";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import { RawNode } from "../../src/raft/node.ts";
import { Cluster, config, drain, forceLeader, lone, msg, storageWith } from "./harness.ts";

describe("§5.4.2 committing entries from previous terms", () => {
  // The leader's log: (1,1) (2,2); it becomes leader of term 3 and appends its no-op at 3.
  const cases: [number, number][] = [
    [1, 0],
    [2, 0],
    [3, 3],
  ];
  for (const [acked, commit] of cases) {
    test(`a leader commits an entry of an earlier term only by committing one of its own term: ack of ${acked} commits ${commit}`, () => {
      const n = lone(1, [1, 2], {}, storageWith([1, 2], [1, 2]));
      forceLeader(n);
      drain(n);
      expect(n.node.status().term).toBe(3);
      n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 3, index: acked }));
      expect(n.node.status().commit).toBe(commit);
    });
  }

  test("the testing knob that counts replicas of earlier terms does commit them (the bug §5.4.2 prevents)", () => {
    const n = lone(1, [1, 2], { testingKnobs: { iKnowThisBreaksRaft: true, commitPriorTerms: true } }, storageWith([1, 2], [1, 2]));
    forceLeader(n);
    drain(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 3, index: 2 }));
    expect(n.node.status().commit).toBe(2);
  });

  test("a knob object without its acknowledgement is refused", () => {
    const cfg = config(1, new MemoryStorage({ voters: [1] }), { testingKnobs: { voteIgnoresLog: true } as never });
    expect(() => new RawNode(cfg)).toThrow("testingKnobs");
  });

  test("a new leader's no-op commits the entries of earlier terms it carries", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(2);
    c.isolate(3);
    c.raw(1).propose("old"); // never reaches a majority in term 1
    c.stabilize();
    c.heal();
    c.isolate(3);
    // Node 2 gets the entry but nothing commits it yet.
    c.tick(1);
    c.stabilize();
    expect(c.get(2).log().map((e) => e.data)).toEqual(["", "old"]);
    c.stop(1);
    c.heal();
    c.elect(2);
    c.tickAll();
    c.stabilize();
    for (const id of [2, 3]) expect(c.get(id).appliedData()).toEqual(["old"]);
    expect(c.get(2).applied.map((e) => e.term)).toEqual([1, 1, 2]);
  });
});

describe("commit and the Ready contract", () => {
  test("a single voter commits as soon as it appends: one Ready carries the entries to persist and the same entries to apply", () => {
    const n = lone(1, [1]);
    n.node.campaign();
    drain(n);
    n.node.propose("x");
    const rd = n.node.ready();
    expect(rd.entries.map((e) => e.data)).toEqual(["x"]);
    expect(rd.committedEntries.map((e) => e.data)).toEqual(["x"]);
    expect(rd.hardState?.commit).toBe(2);
    n.storage.append(rd.entries);
    n.node.advance(rd);
    expect(n.node.hasReady()).toBe(false);
  });

  test("committed entries never run ahead of what is persisted or in the same Ready", () => {
    const n = lone(1, [1]);
    n.node.campaign();
    const rd = n.node.ready();
    const last = rd.entries[rd.entries.length - 1]!.index;
    for (const e of rd.committedEntries) expect(e.index).toBeLessThanOrEqual(last);
  });

  test("committed entries come in bounded batches (maxCommittedPerReady)", () => {
    const c = new Cluster([1], { maxCommittedPerReady: 3 });
    c.elect(1);
    for (let i = 0; i < 10; i++) c.raw(1).propose(`p${i}`);
    const sizes: number[] = [];
    const n = c.get(1);
    while (n.node.hasReady()) {
      const rd = n.node.ready();
      n.storage.append(rd.entries);
      if (rd.hardState) n.storage.setHardState(rd.hardState);
      sizes.push(rd.committedEntries.length);
      n.node.advance(rd);
    }
    expect(Math.max(...sizes)).toBe(3);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
  });

  test("a leader refuses proposals while maxUncommittedEntries wait for a quorum", () => {
    const n = lone(1, [1, 2, 3], { maxUncommittedEntries: 5 });
    forceLeader(n);
    drain(n);
    const results = Array.from({ length: 6 }, (_, i) => n.node.propose(`p${i}`));
    expect(results.filter((r) => r.ok).length).toBe(4);
    const last = results[5]!;
    expect(last.ok).toBe(false);
    if (!last.ok) expect(last.error).toBe("no_quorum_yet");
  });

  test("proposals on a follower are refused with the leader's id", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.raw(2).propose("x")).toEqual({ ok: false, error: "not_leader", leader: 1 });
    expect(lone(5, [5, 6, 7]).node.propose("x")).toEqual({ ok: false, error: "not_leader", leader: 0 });
  });
});

describe("Figure 8", () => {
  /**
   * (b) S5 led term 3 and wrote (2, t3) alone; S1, S2 hold (2, t2).
   * (c) S1 leads term 4 and copies (2, t2) to S3 and S4 but not its no-op.
   * (d) S1 crashes; S5 wins term 5 with S2..S4 (its last term 3 > 2) and
   *     overwrites index 2. Had S1 committed (2, t2) by counting replicas,
   *     two state machines now disagree at index 2.
   */
  function figure8(commitPriorTerms: boolean) {
    const voters = [1, 2, 3, 4, 5];
    const opts = { maxEntriesPerMsg: 1, ...(commitPriorTerms ? { testingKnobs: { iKnowThisBreaksRaft: true as const, commitPriorTerms: true } } : {}) };
    const c = new Cluster([]);
    const logs: Record<number, number[]> = { 1: [1, 2], 2: [1, 2], 3: [1], 4: [1], 5: [1, 3] };
    for (const id of voters) {
      const s = storageWith(voters, logs[id]!, 3);
      s.setHardState({ term: 3, vote: 0, commit: 1 });
      c.add(id, opts, s);
    }
    c.stop(5);
    // (c): S2 hears nothing from S1; S3 and S4 reject the first probe, get index 2, and
    // then nothing more (neither the no-op at 3 nor the commit index).
    const hasIndex2 = (id: number) => c.get(id).storage.lastIndex() >= 2;
    c.filter = (m) => m.from === 1 && m.type !== "vote" && (m.to === 2 || hasIndex2(m.to));
    c.raw(1).campaign();
    c.stabilize();
    expect(c.raw(1).status()).toMatchObject({ role: "leader", term: 4 });
    c.tickAll();
    c.stabilize();
    const s1Applied = c.get(1).applied.find((e) => e.index === 2);
    // (d)
    c.stop(1);
    c.heal();
    c.restart(5);
    for (let i = 0; i < 5 && c.raw(5).status().role !== "leader"; i++) c.elect(5);
    expect(c.raw(5).status().role).toBe("leader");
    c.tickAll();
    c.stabilize();
    const s2Applied = c.get(2).applied.find((e) => e.index === 2);
    return { s1Applied, s2Applied };
  }

  test("counting replicas of an earlier term would let two servers apply different entries at one index", () => {
    const { s1Applied, s2Applied } = figure8(true);
    expect(s1Applied?.term).toBe(2);
    expect(s2Applied?.term).toBe(3);
  });

  test("with §5.4.2 the old entry is never committed by the term-4 leader, so the overwrite is safe", () => {
    const { s1Applied, s2Applied } = figure8(false);
    expect(s1Applied).toBeUndefined();
    expect(s2Applied?.term).toBe(3);
  });
});
