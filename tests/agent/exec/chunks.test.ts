import { describe, expect, test } from "bun:test";
import { CHUNK_BYTES, ResultQueue, Utf8Chunker } from "../../../src/agent/exec/index.ts";
import type { CommandResult } from "../../../src/control/index.ts";

const enc = new TextEncoder();

describe("Utf8Chunker", () => {
  test("gathers small pushes and returns them on flush; nothing before a full chunk", () => {
    const c = new Utf8Chunker();
    expect(c.push(enc.encode("ab"))).toEqual([]);
    expect(c.push(enc.encode("cd"))).toEqual([]);
    expect(c.size).toBe(4);
    expect(c.flush()).toBe("abcd");
    expect(c.flush()).toBe("");
  });

  test("chunks carry at most CHUNK_BYTES of output each and add up to the input", () => {
    const c = new Utf8Chunker();
    const input = "x".repeat(CHUNK_BYTES * 2 + 10);
    const out = c.push(enc.encode(input));
    expect(out.map((s) => s.length)).toEqual([CHUNK_BYTES, CHUNK_BYTES]);
    expect(out.join("") + c.flush(true)).toBe(input);
  });

  test("never splits a UTF-8 sequence across chunks, whatever the cut points", () => {
    const text = "héllo wörld €uro 𝄞 ".repeat(50);
    const bytes = enc.encode(text);
    for (const chunkBytes of [4, 5, 6, 7, 64]) {
      const c = new Utf8Chunker(chunkBytes);
      const out: string[] = [];
      // Pushes cut at odd places too.
      for (let i = 0; i < bytes.length; i += 3) out.push(...c.push(bytes.subarray(i, i + 3)));
      out.push(c.flush(true));
      expect(out.join("")).toBe(text);
      expect(out.some((s) => s.includes("\uFFFD"))).toBe(false);
      for (const s of out) expect(enc.encode(s).length).toBeLessThanOrEqual(chunkBytes);
    }
  });

  test("bytes that are not UTF-8 become U+FFFD and do not hold anything back", () => {
    const c = new Utf8Chunker(4);
    const out = c.push(new Uint8Array([0x61, 0xff, 0xfe, 0x62, 0x80, 0x63, 0x64, 0x65]));
    expect(out.join("") + c.flush(true)).toBe("a\uFFFD\uFFFDb\uFFFDcde");
  });

  test("a sequence cut at the end of a flush is held until its rest arrives; at the end it becomes U+FFFD", () => {
    const c = new Utf8Chunker();
    const euro = enc.encode("€"); // 3 bytes
    c.push(euro.subarray(0, 2));
    expect(c.flush()).toBe("");
    c.push(euro.subarray(2));
    expect(c.flush()).toBe("€");
    c.push(euro.subarray(0, 1));
    expect(c.flush(true)).toBe("\uFFFD");
  });
});

describe("ResultQueue", () => {
  const r = (i: number): CommandResult => ({ type: "command_result", requestId: `r${i}`, status: "ok" });

  test("keeps at most its bound, dropping the oldest", () => {
    const q = new ResultQueue(3);
    for (let i = 1; i <= 5; i++) q.push(r(i));
    expect(q.size).toBe(3);
    expect(q.droppedTotal).toBe(2);
    const sent: string[] = [];
    expect(q.flush((x) => (sent.push(x.requestId), true))).toBe(3);
    expect(sent).toEqual(["r3", "r4", "r5"]);
  });

  test("flush stops at the first refused send and keeps it and the rest, in order", () => {
    const q = new ResultQueue();
    for (let i = 1; i <= 3; i++) q.push(r(i));
    let budget = 1;
    expect(q.flush(() => budget-- > 0)).toBe(1);
    expect(q.size).toBe(2);
    const sent: string[] = [];
    q.flush((x) => (sent.push(x.requestId), true));
    expect(sent).toEqual(["r2", "r3"]);
  });
});
