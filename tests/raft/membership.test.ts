/**
 * Single-server membership changes (dissertation §4.1, etcd's approach):
 * a change takes effect when the application applies its committed entry
 * and calls applyConfChange.
 */
import { describe, expect, test } from "bun:test";
import { decodeConfChange } from "../../src/raft/confchange.ts";
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import { Cluster, drain, forceLeader, lone, msg, storageWith } from "./harness.ts";

describe("§4.1 membership changes", () => {
  test("adding a server: the leader replicates to it once the change is applied, and it counts toward the quorum from then on", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "before");
    // The founders are in no log entry here: the new member learns them from a snapshot.
    c.get(1).storage.createSnapshot(2, { voters: [1, 2, 3] }, "state@2");
    c.add(4, {}, new MemoryStorage());
    const r = c.raw(1).proposeConfChange({ type: "add", node: 4, context: "10.0.0.4:6880" });
    expect(r.ok).toBe(true);
    c.stabilize();
    c.raw(1).reportSnapshot(4, true);
    c.tickAll();
    c.stabilize();
    expect(c.delivered.some((m) => m.type === "snapshot" && m.to === 4)).toBe(true);
    for (const id of [1, 2, 3, 4]) expect(c.raw(id).status().voters).toEqual([1, 2, 3, 4]);
    c.stop(2);
    c.stop(3);
    c.propose(1, "needs 3 of 4");
    expect(c.get(1).appliedData()).toEqual(["before"]);
    c.restart(2);
    c.tickAll();
    c.stabilize();
    expect(c.get(1).appliedData()).toEqual(["before", "needs 3 of 4"]);
  });

  test("a cluster bootstrapped in the log brings a new empty member the founders' configuration", () => {
    const c = new Cluster([]);
    for (const id of [1, 2, 3]) {
      const s = new MemoryStorage();
      s.bootstrap([1, 2, 3]);
      c.add(id, {}, s);
    }
    c.flush(); // apply the bootstrap entries
    c.elect(1);
    c.add(4, {}, new MemoryStorage());
    c.raw(1).proposeConfChange({ type: "add", node: 4 });
    c.stabilize();
    c.tickAll();
    c.stabilize();
    expect(c.raw(4).status().voters).toEqual([1, 2, 3, 4]);
  });

  test("only one change may be pending: a second waits until the first is applied", () => {
    const n = lone(1, [1, 2, 3]);
    forceLeader(n);
    drain(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 1 }));
    drain(n);
    expect(n.node.proposeConfChange({ type: "add", node: 4 }).ok).toBe(true);
    expect(n.node.proposeConfChange({ type: "add", node: 5 })).toMatchObject({ ok: false, error: "conf_change_pending" });
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 2 }));
    drain(n); // applies the add of 4 (the harness calls applyConfChange)
    expect(n.node.status().voters).toEqual([1, 2, 3, 4]);
    expect(n.node.proposeConfChange({ type: "add", node: 5 }).ok).toBe(true);
  });

  test("a new leader refuses changes until it has committed an entry of its term", () => {
    const n = lone(1, [1, 2, 3]);
    forceLeader(n);
    drain(n);
    expect(n.node.proposeConfChange({ type: "add", node: 4 })).toMatchObject({ ok: false, error: "no_quorum_yet" });
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 1 }));
    drain(n);
    expect(n.node.proposeConfChange({ type: "add", node: 4 }).ok).toBe(true);
  });

  test("a new leader treats a conf entry of an earlier term in its log as pending", () => {
    const s = storageWith([1, 2, 3], [1]);
    s.append([{ index: 2, term: 1, type: "conf", data: JSON.stringify({ type: "add", node: 4 }) }]);
    const n = lone(1, [1, 2, 3], {}, s);
    forceLeader(n);
    drain(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 2, index: 3 }));
    // Committed now, but not applied yet: still pending.
    expect(n.node.proposeConfChange({ type: "add", node: 5 })).toMatchObject({ ok: false, error: "conf_change_pending" });
  });

  test("requests that change nothing or remove the last voter are refused as invalid", () => {
    const n = lone(1, [1, 2, 3]);
    forceLeader(n);
    drain(n);
    n.node.step(msg({ type: "append_resp", from: 2, to: 1, term: 1, index: 1 }));
    expect(n.node.proposeConfChange({ type: "add", node: 2 })).toMatchObject({ ok: false, error: "invalid_request" });
    expect(n.node.proposeConfChange({ type: "remove", node: 9 })).toMatchObject({ ok: false, error: "invalid_request" });
    expect(n.node.proposeConfChange({ type: "add", node: 0 })).toMatchObject({ ok: false, error: "invalid_request" });
    const one = lone(1, [1]);
    one.node.campaign();
    drain(one);
    expect(one.node.proposeConfChange({ type: "remove", node: 1 })).toMatchObject({ ok: false, error: "invalid_request" });
  });

  test("removing a server shrinks the quorum once applied", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.raw(1).proposeConfChange({ type: "remove", node: 3 });
    c.stabilize();
    c.stop(3);
    c.stop(2);
    c.propose(1, "needs 2 of 2");
    expect(c.get(1).appliedData()).toEqual([]);
    c.restart(2);
    c.tickAll();
    c.stabilize();
    expect(c.get(1).appliedData()).toEqual(["needs 2 of 2"]);
    expect(c.raw(1).status().progress.map((p) => p.id)).toEqual([1, 2]);
  });

  test("removing the leader itself: it commits the change, steps down when it applies it, and the others elect a leader", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.raw(1).proposeConfChange({ type: "remove", node: 1 }).ok).toBe(true);
    c.stabilize();
    expect(c.raw(1).status()).toMatchObject({ role: "follower", voters: [2, 3] });
    c.stop(1);
    for (let i = 0; i < 30 && c.leaders().length === 0; i++) {
      c.tickAll();
      c.stabilize();
    }
    const [l] = c.leaders();
    expect([2, 3]).toContain(l!);
    c.propose(l!, "after");
    c.tickAll();
    c.stabilize();
    expect(c.get(2).appliedData()).toEqual(["after"]);
  });

  test("a node not in the voters accepts appends from a leader but never campaigns", () => {
    const n = lone(4, [], {}, new MemoryStorage());
    n.node.step(msg({ type: "append", from: 1, to: 4, term: 3, index: 0, logTerm: 0, commit: 1, entries: [{ index: 1, term: 3, type: "normal", data: "" }] }));
    expect(drain(n).find((m) => m.type === "append_resp")?.index).toBe(1);
    for (let i = 0; i < 100; i++) n.node.tick();
    expect(n.node.status().role).toBe("follower");
    expect(drain(n)).toEqual([]);
  });

  test("a node with a committed conf change it has not applied yet does not campaign", () => {
    const s = storageWith([1, 2, 3], [1]);
    s.append([{ index: 2, term: 1, type: "conf", data: JSON.stringify({ type: "remove", node: 3 }) }]);
    s.setHardState({ term: 1, vote: 0, commit: 2 });
    const n = lone(1, [1, 2, 3], { autoConf: false }, s);
    n.node.campaign();
    expect(n.node.status().role).toBe("follower");
    const rd = n.node.ready();
    const cc = decodeConfChange(rd.committedEntries.find((e) => e.type === "conf")!.data)!;
    n.node.applyConfChange(cc);
    n.node.advance(rd);
    n.node.campaign();
    expect(n.node.status().role).toBe("candidate");
  });

  test("applyConfChange returns the new voters and ignores what is not a change", () => {
    const n = lone(1, [1, 2, 3]);
    expect(n.node.applyConfChange({ type: "add", node: 7 })).toEqual({ voters: [1, 2, 3, 7] });
    expect(n.node.applyConfChange({ type: "remove", node: 2 })).toEqual({ voters: [1, 3, 7] });
    expect(n.node.applyConfChange({ type: "remove", node: 2 })).toEqual({ voters: [1, 3, 7] });
    expect(n.node.applyConfChange({ type: "bogus", node: 2 } as never)).toEqual({ voters: [1, 3, 7] });
  });
});
