/**
 * Nothing from the network makes the core throw: stale terms,
 * out-of-range indexes, unknown senders, malformed fields are ignored or
 * rejected. A seeded fuzzer throws garbage and near-valid messages at a
 * running cluster, whose nodes keep handling their Readies (a broken
 * invariant of the core's own would throw there).
 */
import { expect, test } from "bun:test";
import type { Entry, Message, MessageType } from "../../src/raft/types.ts";
import { MESSAGE_TYPES } from "../../src/raft/checks.ts";
import { seededRng } from "../helpers/rng.ts";
import { Cluster } from "./harness.ts";

const TYPES: readonly MessageType[] = MESSAGE_TYPES;

function fuzzMessage(rng: () => number, term: number, last: number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const num = (): unknown => pick([0, 1, 2, last, last + 1, last + 50, term, term + 1, term - 1, -1, 1.5, NaN, Infinity, 2 ** 53, "3", null, undefined]);
  if (rng() < 0.05) return pick([null, 5, "hello", [], { type: "append" }]);
  const m: Record<string, unknown> = {
    type: rng() < 0.95 ? pick(TYPES) : "bogus",
    from: pick([1, 2, 3, 4, 9, 0, -1, 2 ** 33, "2"]),
    to: pick([1, 2, 3, 1, 2, 3, 7]),
    term: rng() < 0.8 ? pick([term, term, term + 1, Math.max(0, term - 1), 0]) : num(),
  };
  if (rng() < 0.7) m.index = num();
  if (rng() < 0.7) m.logTerm = num();
  if (rng() < 0.7) m.commit = num();
  if (rng() < 0.3) m.reject = pick([true, false, "yes"]);
  if (rng() < 0.3) m.rejectHint = num();
  if (rng() < 0.2) m.context = pick(["", "transfer", "read:1", "read:2", "x".repeat(3000), 7]);
  if (rng() < 0.5) {
    const start = typeof m.index === "number" ? m.index + 1 : 1;
    const n = Math.floor(rng() * 4);
    const ents: unknown[] = [];
    for (let k = 0; k < n; k++) {
      const e: Partial<Entry> | string = rng() < 0.9 ? { index: rng() < 0.9 ? start + k : start + k + 1, term: pick([term, term, Math.max(0, term - 1), term + 5]), type: pick(["normal", "conf", "other"] as Entry["type"][]), data: pick(["", "x", '{"type":"add","node":4}', 5 as never]) } : "garbage";
      ents.push(e);
    }
    m.entries = rng() < 0.95 ? ents : "not an array";
  }
  if (m.type === "snapshot" && rng() < 0.8) {
    m.snapshot = rng() < 0.9 ? { meta: { index: num(), term: num(), confState: { voters: pick([[1, 2, 3], [], [0], "x", [1, 2, 3, 4]]) } } } : { nope: 1 };
  }
  return m;
}

/**
 * Delivers for a while. A forged acknowledgement can make a leader probe a
 * follower forever (it trusts what a peer acknowledged, as etcd does: peers
 * are authenticated); that is a livelock of garbage, not a crash.
 */
function settle(c: Cluster): void {
  for (let round = 0; round < 30; round++) {
    c.flush();
    if (c.queue.length === 0) return;
    const batch = c.queue;
    c.queue = [];
    for (const m of batch) c.deliver(m);
  }
  c.flush();
  c.queue = [];
}

test("a cluster under a storm of malformed and near-valid messages never throws", () => {
  const rng = seededRng(20240601);
  for (const opts of [{}, { preVote: true, checkQuorum: true }]) {
    const c = new Cluster([1, 2, 3], opts);
    c.elect(1);
    for (let round = 0; round < 3000; round++) {
      const target = 1 + Math.floor(rng() * 3);
      const s = c.raw(target).status();
      const m = fuzzMessage(rng, s.term, s.lastIndex) as Message;
      c.raw(target).step(m);
      if (round % 7 === 0) c.tickAll();
      if (round % 3 === 0) c.raw(1).propose(`p${round}`);
      if (round % 11 === 0) c.raw(target).readIndex(`r${round}`);
      settle(c);
    }
    // Still a working cluster (the garbage included higher terms: some election happened).
    for (let i = 0; i < 50 && c.leaders().length !== 1; i++) {
      c.tickAll();
      settle(c);
    }
    expect(c.leaders().length).toBe(1);
  }
}, 20_000);

test("messages addressed to another node, from itself, or with term 0 from a leader are ignored", () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  const before = c.raw(2).status();
  c.raw(2).step({ type: "heartbeat", from: 1, to: 3, term: 9, commit: 0 });
  c.raw(2).step({ type: "heartbeat", from: 2, to: 2, term: 9, commit: 0 });
  c.raw(2).step({ type: "append", from: 3, to: 2, term: 0, index: 0, logTerm: 0, commit: 0, entries: [] });
  expect(c.raw(2).status()).toEqual(before);
  expect(c.raw(2).hasReady()).toBe(false);
});
