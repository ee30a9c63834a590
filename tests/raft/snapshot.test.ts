/**
 * Snapshots (Raft §7): sending them to followers that need compacted
 * entries or are too far behind, installing them, and the leader's side.
 */
import { describe, expect, test } from "bun:test";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import type { Snapshot } from "../../src/raft/types.ts";
import { Cluster, drain, forceLeader, lone, msg, storageWith } from "./harness.ts";

const snap = (index: number, term: number, voters = [1, 2, 3]): Snapshot => ({ meta: { index, term, confState: { voters } }, data: `state@${index}` });

/** A leader (node 1 of 1,2,3) whose storage has entries 1..10 of term 1, compacted up to `compactTo`. */
function leaderWithCompactedLog(compactTo: number, o = {}) {
  const s = storageWith([1, 2, 3], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  s.setHardState({ term: 1, vote: 0, commit: 10 });
  s.createSnapshot(compactTo, { voters: [1, 2, 3] }, "state");
  s.compact(compactTo);
  const n = lone(1, [1, 2, 3], { applied: 10, ...o }, s);
  forceLeader(n);
  drain(n);
  return n;
}

describe("§7 snapshots, leader side", () => {
  test("a follower whose next entry is compacted away is sent the snapshot", () => {
    const n = leaderWithCompactedLog(8);
    // Follower 2 says its log ends at 3: the leader no longer has 4.
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 2, index: 10, reject: true, rejectHint: 3, logTerm: 1 }));
    const out = drain(n);
    const s = out.find((m) => m.type === "snapshot" && m.to === 2);
    expect(s?.snapshot?.meta).toEqual({ index: 8, term: 1, confState: { voters: [1, 2, 3] } });
    expect(n.node.status().progress.find((p) => p.id === 2)).toMatchObject({ state: "snapshot", pendingSnapshot: 8 });
  });

  test("a probing follower more than resyncThreshold entries behind is sent the snapshot instead of entries", () => {
    const n = leaderWithCompactedLog(8, { resyncThreshold: 5 });
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 2, index: 10, reject: true, rejectHint: 2, logTerm: 1 }));
    expect(drain(n).some((m) => m.type === "snapshot" && m.to === 2)).toBe(true);
    // Within the threshold, entries.
    const m = leaderWithCompactedLog(1, { resyncThreshold: 5 });
    m.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 2, index: 10, reject: true, rejectHint: 7, logTerm: 1 }));
    const out = drain(m);
    expect(out.some((x) => x.type === "snapshot")).toBe(false);
    expect(out.find((x) => x.type === "append" && x.to === 2)?.index).toBe(7);
  });

  test("the leader accepts an answer past the snapshot it sent (the transport may send a fresher one)", () => {
    const n = leaderWithCompactedLog(8);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 2, index: 10, reject: true, rejectHint: 3, logTerm: 1 }));
    drain(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 2, index: 10 }));
    expect(n.node.status().progress.find((p) => p.id === 2)).toMatchObject({ state: "replicate", match: 10 });
    // Catching up goes on from there: the leader's no-op at 11 follows.
    const app = drain(n).find((m) => m.type === "append" && m.to === 2)!;
    expect([app.index, app.entries?.map((e) => e.index)]).toEqual([10, [11]]);
  });

  test("heartbeats keep flowing to a follower in snapshot state", () => {
    const n = leaderWithCompactedLog(8);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 2, index: 10, reject: true, rejectHint: 3, logTerm: 1 }));
    drain(n);
    n.node.tick();
    const out = drain(n);
    expect(out.filter((m) => m.type === "heartbeat" && m.to === 2).length).toBe(1);
    expect(out.filter((m) => m.to === 2 && (m.type === "append" || m.type === "snapshot")).length).toBe(0);
  });

  test("reportSnapshot: failure or success both go back to probing, after an answer or a heartbeat response", () => {
    for (const ok of [false, true]) {
      const n = leaderWithCompactedLog(8);
      n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 2, index: 10, reject: true, rejectHint: 3, logTerm: 1 }));
      drain(n);
      n.node.reportSnapshot(2, ok);
      const pr = n.node.status().progress.find((p) => p.id === 2)!;
      expect(pr.state).toBe("probe");
      expect(pr.pendingSnapshot).toBe(0);
      expect(drain(n).filter((m) => m.to === 2).length).toBe(0);
      n.node.step(msg({ type: "heartbeat_resp", from: 2, to: 1, term: 2 }));
      // After a failure the follower still needs compacted entries: the snapshot again.
      const next = drain(n).find((m) => m.to === 2)!;
      expect(next.type).toBe(ok ? "append" : "snapshot");
    }
  });

  test("a follower's snapshot_status message does what reportSnapshot does", () => {
    const n = leaderWithCompactedLog(8);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 2, index: 10, reject: true, rejectHint: 3, logTerm: 1 }));
    drain(n);
    n.node.step(msg({ type: "snapshot_status", from: 2, to: 1, term: 2, reject: true }));
    expect(n.node.status().progress.find((p) => p.id === 2)?.state).toBe("probe");
  });

  test("forceSnapshot sends the snapshot now; refused for a non-follower or without a snapshot", () => {
    const n = leaderWithCompactedLog(8);
    expect(n.node.forceSnapshot(3)).toEqual({ ok: true });
    expect(drain(n).some((m) => m.type === "snapshot" && m.to === 3)).toBe(true);
    expect(n.node.forceSnapshot(9)).toMatchObject({ ok: false, error: "invalid_request" });
    const fresh = lone(1, [1, 2]);
    forceLeader(fresh);
    expect(fresh.node.forceSnapshot(2)).toMatchObject({ ok: false, error: "invalid_request" });
    expect(lone(2, [1, 2]).node.forceSnapshot(1)).toMatchObject({ ok: false, error: "not_leader" });
  });

  test("a member added with an empty disk starts from the snapshot when there is one", () => {
    const n = leaderWithCompactedLog(2);
    n.node.step(msg({ type: "append_resp", from: 3, to: 1, term: 2, index: 10, reject: true, rejectHint: 0, logTerm: 0 }));
    expect(drain(n).find((m) => m.to === 3)?.type).toBe("snapshot");
  });
});

describe("§7 snapshots, follower side", () => {
  test("a follower installs a snapshot past its commit, discarding a conflicting log", () => {
    const n = lone(2, [1, 2, 3], {}, storageWith([1, 2, 3], [1, 1, 2, 2]));
    n.node.step(msg({ type: "snapshot", from: 1, to: 2, term: 3, snapshot: snap(5, 3) }));
    const rd = n.node.ready();
    expect(rd.snapshot?.meta.index).toBe(5);
    expect(rd.committedEntries).toEqual([]);
    expect(rd.messages.find((m) => m.type === "append_resp")).toMatchObject({ to: 1, index: 5 });
    n.storage.applySnapshot(rd.snapshot!);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    n.node.advance(rd);
    expect(n.node.status()).toMatchObject({ commit: 5, applied: 5, lastIndex: 5 });
    expect(n.storage.firstIndex()).toBe(6);
  });

  test("a follower that has the snapshot's last entry with the snapshot's term keeps its log and just commits", () => {
    const n = lone(2, [1, 2, 3], {}, storageWith([1, 2, 3], [1, 1, 2, 2, 2]));
    n.node.step(msg({ type: "snapshot", from: 1, to: 2, term: 3, snapshot: snap(3, 2) }));
    const rd = n.node.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messages.find((m) => m.type === "append_resp")?.index).toBe(3);
    expect(n.node.status()).toMatchObject({ commit: 3, lastIndex: 5 });
  });

  test("a follower ignores a snapshot at or before its commit index", () => {
    const s = storageWith([1, 2, 3], [1, 1, 1, 1]);
    s.setHardState({ term: 1, vote: 0, commit: 4 });
    const n = lone(2, [1, 2, 3], {}, s);
    n.node.step(msg({ type: "snapshot", from: 1, to: 2, term: 2, snapshot: snap(3, 1) }));
    const rd = n.node.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messages.find((m) => m.type === "append_resp")?.index).toBe(4);
  });

  test("the snapshot's configuration becomes the follower's", () => {
    const n = lone(4, [], {}, new MemoryStorage());
    n.node.step(msg({ type: "snapshot", from: 1, to: 4, term: 2, snapshot: snap(7, 2, [1, 2, 4]) }));
    drain(n);
    expect(n.node.status().voters).toEqual([1, 2, 4]);
  });

  test("a cluster brings a follower that missed compacted entries up to date through a snapshot", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.stop(3);
    for (let i = 0; i < 20; i++) c.propose(1, `p${i}`);
    const st = c.get(1).storage;
    st.createSnapshot(15, { voters: [1, 2, 3] }, "sm@15");
    st.compact(15);
    c.restart(3);
    c.tickAll();
    c.stabilize();
    expect(c.delivered.some((m) => m.type === "snapshot" && m.to === 3)).toBe(true);
    c.raw(1).reportSnapshot(3, true);
    c.tickAll();
    c.stabilize();
    expect(c.raw(3).status()).toMatchObject({ commit: 21, applied: 21 });
    // The snapshot covers up to p13 (index 15); the rest comes as entries.
    expect(c.get(3).appliedData()).toEqual(["p14", "p15", "p16", "p17", "p18", "p19"]);
  });
});
