import { describe, expect, test } from "bun:test";
import { bootstrapEntries, decodeConfChange, encodeConfChange } from "../../src/raft/confchange.ts";
import { MAX_ENTRIES_PER_MESSAGE, parseRaftMessage } from "../../src/raft/schema.ts";
import type { Entry, Message } from "../../src/raft/types.ts";

const entries = (from: number, n: number, term = 2): Entry[] => Array.from({ length: n }, (_, k) => ({ index: from + k, term, type: "normal", data: "x" }));

describe("parseRaftMessage", () => {
  test("accepts what the core sends", () => {
    const msgs: Message[] = [
      { type: "append", from: 1, to: 2, term: 2, index: 4, logTerm: 1, entries: entries(5, 3), commit: 4 },
      { type: "append_resp", from: 2, to: 1, term: 2, index: 4, reject: true, rejectHint: 3, logTerm: 1 },
      { type: "heartbeat", from: 1, to: 2, term: 2, commit: 3, context: "read:7" },
      { type: "vote", from: 3, to: 1, term: 5, index: 9, logTerm: 4, context: "transfer" },
      { type: "snapshot", from: 1, to: 2, term: 2, snapshot: { meta: { index: 10, term: 2, confState: { voters: [1, 2, 3] } } } },
      { type: "read_index_resp", from: 1, to: 3, term: 2, index: 12, context: "c" },
    ];
    for (const m of msgs) {
      const r = parseRaftMessage(m);
      expect(r).toEqual({ ok: true, message: m });
    }
  });

  test("drops unknown keys (a newer peer's fields) instead of refusing", () => {
    const r = parseRaftMessage({ type: "heartbeat", from: 1, to: 2, term: 1, commit: 0, extra: 5 });
    expect(r.ok).toBe(true);
    if (r.ok) expect("extra" in r.message).toBe(false);
  });

  const bad: [string, unknown, string][] = [
    ["not an object", 5, "Object"],
    ["an unknown type", { type: "nope", from: 1, to: 2, term: 1 }, "type"],
    ["node id 0", { type: "heartbeat", from: 0, to: 2, term: 1 }, "from"],
    ["a node id past u32", { type: "heartbeat", from: 2 ** 32, to: 2, term: 1 }, "from"],
    ["a negative term", { type: "heartbeat", from: 1, to: 2, term: -1 }, "term"],
    ["a fractional index", { type: "append", from: 1, to: 2, term: 1, index: 1.5, logTerm: 1, commit: 0 }, "index"],
    ["to itself", { type: "heartbeat", from: 2, to: 2, term: 1 }, "itself"],
    ["too many entries", { type: "append", from: 1, to: 2, term: 2, index: 0, logTerm: 0, commit: 0, entries: entries(1, MAX_ENTRIES_PER_MESSAGE + 1) }, "1000"],
    ["entries with a gap", { type: "append", from: 1, to: 2, term: 2, index: 0, logTerm: 0, commit: 0, entries: [...entries(1, 1), ...entries(3, 1)] }, "one by one"],
    ["an entry from a later term", { type: "append", from: 1, to: 2, term: 2, index: 0, logTerm: 0, commit: 0, entries: entries(1, 1, 3) }, "term"],
    ["a huge context", { type: "read_index", from: 1, to: 2, term: 1, context: "x".repeat(5000) }, "context"],
    ["a snapshot message without a snapshot", { type: "snapshot", from: 1, to: 2, term: 1 }, "snapshot"],
    ["a bad entry type", { type: "append", from: 1, to: 2, term: 2, index: 0, logTerm: 0, commit: 0, entries: [{ index: 1, term: 1, type: "weird", data: "" }] }, "type"],
  ];
  for (const [what, input, mentions] of bad) {
    test(`refuses ${what}, saying why`, () => {
      const r = parseRaftMessage(input);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.detail).toStartWith("bad Raft message: ");
        expect(r.detail).toContain(mentions);
      }
    });
  }
});

describe("conf change codec", () => {
  test("round-trips, with and without a context", () => {
    for (const cc of [{ type: "add" as const, node: 4, context: "10.0.0.4:6880" }, { type: "remove" as const, node: 2 }]) {
      expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    }
  });

  test("undecodable data is undefined (applied as a no-op by every member alike)", () => {
    for (const data of ["", "{", "null", '{"type":"add"}', '{"type":"grow","node":1}', '{"type":"add","node":0}', '{"type":"add","node":1,"context":5}']) {
      expect(decodeConfChange(data)).toBeUndefined();
    }
  });

  test("bootstrap entries add each founder once, in order, at term 1", () => {
    const ents = bootstrapEntries([3, 1, 3, 2]);
    expect(ents.map((e) => [e.index, e.term, e.type, decodeConfChange(e.data)?.node])).toEqual([
      [1, 1, "conf", 1],
      [2, 1, "conf", 2],
      [3, 1, "conf", 3],
    ]);
    expect(() => bootstrapEntries([0])).toThrow("not a node id");
  });
});
