import { describe, expect, test } from "bun:test";
import type { Message } from "../../src/raft/types.ts";
import { seededRng } from "../helpers/rng.ts";
import { EventQueue } from "./events.ts";
import { cloneMessage, SimNetwork, type NetworkProfile } from "./network.ts";

const hb = (from: number, to: number, commit = 0): Message => ({ type: "heartbeat", from, to, term: 1, commit });

function harness(profile: Partial<NetworkProfile>, seed = 1) {
  const q = new EventQueue();
  const got: { at: number; m: Message }[] = [];
  const net = new SimNetwork(seededRng(seed), { loss: 0, duplicate: 0, delayMsMin: 1, delayMsMax: 5, spike: 0, spikeMsMax: 0, ...profile }, (d, fn) => q.after(d, fn), (m) => got.push({ at: q.now, m }));
  const run = () => {
    while (q.runNext()) {
      // deliver everything
    }
  };
  return { q, net, got, run };
}

describe("simulated network", () => {
  test("delivers every message within its delay bounds when calm", () => {
    const h = harness({});
    for (let i = 0; i < 200; i++) h.net.send(hb(1, 2, i));
    h.run();
    expect(h.got.length).toBe(200);
    expect(h.got.every((g) => g.at >= 1 && g.at <= 5)).toBe(true);
  });

  test("variable delays reorder messages", () => {
    const h = harness({});
    for (let i = 0; i < 50; i++) h.net.send(hb(1, 2, i));
    h.run();
    const order = h.got.map((g) => g.m.commit);
    expect(order).not.toEqual([...order].sort((a, b) => a! - b!));
  });

  test("loses about the configured share, and counts it", () => {
    const h = harness({ loss: 0.2 });
    for (let i = 0; i < 5000; i++) h.net.send(hb(1, 2));
    h.run();
    expect(h.net.stats.lost).toBeGreaterThan(850);
    expect(h.net.stats.lost).toBeLessThan(1150);
    expect(h.got.length).toBe(5000 - h.net.stats.lost);
  });

  test("duplicates about the configured share", () => {
    const h = harness({ duplicate: 0.1 });
    for (let i = 0; i < 5000; i++) h.net.send(hb(1, 2));
    h.run();
    expect(h.got.length).toBe(5000 + h.net.stats.duplicated);
    expect(h.net.stats.duplicated).toBeGreaterThan(400);
    expect(h.net.stats.duplicated).toBeLessThan(600);
  });

  test("spikes delay a few messages up to spikeMsMax", () => {
    const h = harness({ spike: 0.05, spikeMsMax: 100 });
    for (let i = 0; i < 2000; i++) h.net.send(hb(1, 2));
    h.run();
    const late = h.got.filter((g) => g.at > 5);
    expect(late.length).toBeGreaterThan(50);
    expect(Math.max(...h.got.map((g) => g.at))).toBeLessThanOrEqual(100);
  });

  test("a partition cuts the links between groups, both ways, and healing restores them", () => {
    const h = harness({});
    h.net.partition([[1, 2], [3]]);
    for (const [a, b] of [[1, 2], [2, 1], [1, 3], [3, 1], [2, 3], [3, 2]] as const) h.net.send(hb(a, b));
    h.run();
    expect(h.got.map((g) => `${g.m.from}>${g.m.to}`).sort()).toEqual(["1>2", "2>1"]);
    h.net.heal();
    h.net.send(hb(1, 3));
    h.run();
    expect(h.got.length).toBe(3);
  });

  test("a one-way cut drops one direction only", () => {
    const h = harness({});
    h.net.cutOneWay(1, 2);
    h.net.send(hb(1, 2));
    h.net.send(hb(2, 1));
    h.run();
    expect(h.got.map((g) => g.m.from)).toEqual([2]);
  });

  test("isolating a node cuts it from everyone", () => {
    const h = harness({});
    h.net.isolate(2, [1, 2, 3]);
    for (const [a, b] of [[1, 2], [2, 3], [1, 3]] as const) h.net.send(hb(a, b));
    h.run();
    expect(h.got.map((g) => `${g.m.from}>${g.m.to}`)).toEqual(["1>3"]);
  });

  test("a cut also drops what was in flight on the link", () => {
    const h = harness({});
    h.net.send(hb(1, 2));
    h.net.cut(1, 2);
    h.run();
    expect(h.got).toEqual([]);
    expect(h.net.stats.cut).toBe(1);
  });

  test("the same seed gives the same deliveries at the same times", () => {
    const runs = [1, 1, 2].map((seed) => {
      const h = harness({ loss: 0.1, duplicate: 0.1, spike: 0.1, spikeMsMax: 50 }, seed);
      for (let i = 0; i < 300; i++) h.net.send(hb(1 + (i % 3), 1 + ((i + 1) % 3), i));
      h.run();
      return h.got.map((g) => `${g.at.toFixed(6)}:${g.m.commit}`).join(",");
    });
    expect(runs[1]).toBe(runs[0]!);
    expect(runs[2]).not.toBe(runs[0]!);
  });

  test("messages are copied on the wire: a receiver never shares the sender's objects", () => {
    const m: Message = { type: "append", from: 1, to: 2, term: 1, index: 0, logTerm: 0, commit: 0, entries: [{ index: 1, term: 1, type: "normal", data: "x" }] };
    const c = cloneMessage(m);
    expect(c).toEqual(m);
    expect(c.entries).not.toBe(m.entries);
    expect(c.entries![0]).not.toBe(m.entries![0]);
  });
});

describe("event queue", () => {
  test("runs events in time order, ties in insertion order, never in the past", () => {
    const q = new EventQueue();
    const seen: string[] = [];
    q.at(5, () => seen.push("b"));
    q.at(1, () => {
      seen.push("a");
      q.at(0, () => seen.push("a2")); // "now" at the earliest
    });
    q.at(5, () => seen.push("c"));
    while (q.runNext()) {
      // run all
    }
    expect(seen).toEqual(["a", "a2", "b", "c"]);
    expect(q.now).toBe(5);
  });

  test("stops at a time limit", () => {
    const q = new EventQueue();
    let ran = 0;
    q.at(10, () => ran++);
    expect(q.runNext(5)).toBe(false);
    expect(ran).toBe(0);
  });
});
