import { describe, expect, test } from "bun:test";
import { dropMarker, LineQueue, LineSplitter, tailStart } from "../../../src/agent/logs/index.ts";

const enc = new TextEncoder();
const tail = (text: string, n: number, whole = true) => {
  const b = enc.encode(text);
  return new TextDecoder().decode(b.subarray(tailStart(b, n, whole)));
};

describe("LineSplitter", () => {
  test("complete lines out, the unfinished one held until its end arrives or the stream ends", () => {
    const s = new LineSplitter();
    expect(s.push(enc.encode("a\nbb\ncc"))).toEqual(["a", "bb"]);
    expect(s.pendingBytes).toBe(2);
    expect(s.push(enc.encode("c\n\n"))).toEqual(["ccc", ""]);
    expect(s.push(enc.encode("tail"))).toEqual([]);
    expect(s.end()).toEqual(["tail"]);
    expect(s.end()).toEqual([]);
  });

  test("a line over the bound comes in pieces of at most the bound, cut between characters", () => {
    const s = new LineSplitter(10);
    const out = s.push(enc.encode("ééééééééé\n")); // 9 × 2 bytes
    expect(out).toEqual(["ééééé", "éééé"]);
    for (const l of out) expect(enc.encode(l).length).toBeLessThanOrEqual(10);
    // The held part is bounded too: an endless line without '\n' comes out in pieces as it grows.
    const t = new LineSplitter(8);
    expect(t.push(enc.encode("x".repeat(20)))).toEqual(["x".repeat(8), "x".repeat(8)]);
    expect(t.pendingBytes).toBe(4);
  });

  test("bytes that are not UTF-8 become U+FFFD; reset forgets the unfinished line", () => {
    const s = new LineSplitter();
    expect(s.push(new Uint8Array([0x61, 0xff, 0x0a]))).toEqual(["a\uFFFD"]);
    s.push(enc.encode("half"));
    s.reset();
    expect(s.push(enc.encode("new\n"))).toEqual(["new"]);
  });
});

describe("tailStart", () => {
  test("the last n lines of a whole file, with or without a final newline", () => {
    expect(tail("1\n2\n3\n4\n", 2)).toBe("3\n4\n");
    expect(tail("1\n2\n3\n4", 2)).toBe("3\n4");
    expect(tail("1\n2\n", 10)).toBe("1\n2\n");
    expect(tail("1\n2\n", 0)).toBe("");
    expect(tail("", 3)).toBe("");
    expect(tail("\n\n\n", 2)).toBe("\n\n");
  });

  test("from the middle of a file: the partial first line is not shown", () => {
    expect(tail("ial\n2\n3\n", 10, false)).toBe("2\n3\n");
    expect(tail("partial-only", 10, false)).toBe("");
    expect(tail("ial\n2\n3\n", 1, false)).toBe("3\n");
  });
});

describe("LineQueue", () => {
  test("coalesces lines into messages of at most maxChars, joined by newlines", () => {
    const q = new LineQueue(1000);
    for (const l of ["aaaa", "bbbb", "cccc"]) q.push(l);
    expect(q.take(9)).toBe("aaaa\nbbbb");
    expect(q.take(9)).toBe("cccc");
    expect(q.take(9)).toBe(null);
  });

  test("bounded: the oldest lines are dropped and one marker line says how many", () => {
    const q = new LineQueue(10);
    for (let i = 0; i < 6; i++) q.push(`line${i}`); // 5 chars each
    expect(q.queuedChars).toBeLessThanOrEqual(10);
    expect(q.droppedTotal).toBe(4);
    expect(q.take(1000)).toBe([dropMarker(4), "line4", "line5"].join("\n"));
    expect(q.take(1000)).toBe(null);
    expect(dropMarker(1)).toContain("1 line dropped");
  });
});
