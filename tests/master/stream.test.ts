/** The bounded line stream behind every streamed answer (exec, logs, upgrade). */
import { describe, expect, test } from "bun:test";
import { LineStream } from "../../src/master/http/stream.ts";

async function readAll(s: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(s).text();
}

describe("LineStream", () => {
  test("NDJSON framing: one JSON document per line, in push order, ended by end()", async () => {
    const s = new LineStream({ maxBufferedBytes: 1 << 20 });
    s.push(JSON.stringify({ type: "output", data: "a\nb" }));
    s.push(JSON.stringify({ type: "result", ok: true }), false);
    s.end(JSON.stringify({ type: "done" }));
    const text = await readAll(s.readable);
    expect(text.endsWith("\n")).toBe(true);
    expect(text.trimEnd().split("\n").map((l) => JSON.parse(l))).toEqual([{ type: "output", data: "a\nb" }, { type: "result", ok: true }, { type: "done" }]);
    expect(s.push("late")).toBe(false);
  });

  test("a reader that waits gets lines as they are pushed", async () => {
    const s = new LineStream({ maxBufferedBytes: 1 << 20 });
    const reader = s.readable.getReader();
    const first = reader.read();
    s.push("one");
    expect(new TextDecoder().decode((await first).value)).toBe("one\n");
    s.push("two");
    s.end();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("two\n");
    expect((await reader.read()).done).toBe(true);
  });

  test("past the bound droppable lines are dropped and replaced by one marker; must-arrive lines never are", async () => {
    const s = new LineStream({ maxBufferedBytes: 20, dropMarker: (n, bytes) => `# dropped ${n} lines, ${bytes} bytes` });
    expect(s.push("0123456789")).toBe(true); // 11 bytes queued
    expect(s.push("abcdefghij")).toBe(false); // 22 > 20
    expect(s.push("klmnopqrst")).toBe(false);
    expect(s.push("RESULT", false)).toBe(true); // marker first, then it
    expect(s.droppedLinesTotal).toBe(2);
    s.end();
    expect(await readAll(s.readable)).toBe("0123456789\n# dropped 2 lines, 22 bytes\nRESULT\n");
  });

  test("without a marker drops are silent in the body; a marker still pending at the end is written", async () => {
    const quiet = new LineStream({ maxBufferedBytes: 5 });
    quiet.push("123");
    quiet.push("45678");
    quiet.end();
    expect(await readAll(quiet.readable)).toBe("123\n");
    const marked = new LineStream({ maxBufferedBytes: 5, dropMarker: (n) => `# ${n}` });
    marked.push("123");
    marked.push("45678");
    marked.end();
    expect(await readAll(marked.readable)).toBe("123\n# 1\n");
  });

  test("the reader going away calls onCancel once and stops queueing", async () => {
    let cancels = 0;
    const s = new LineStream({ maxBufferedBytes: 1 << 20, onCancel: () => cancels++ });
    s.push("x");
    const reader = s.readable.getReader();
    await reader.read();
    await reader.cancel();
    expect(cancels).toBe(1);
    expect(s.cancelled).toBe(true);
    expect(s.push("y")).toBe(false);
    s.end();
    expect(cancels).toBe(1);
  });

  test("a slow HTTP client holds the server to the bound (backpressure through a real socket)", async () => {
    let s!: LineStream;
    let dropped = 0;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch() {
        s = new LineStream({ maxBufferedBytes: 64 * 1024 });
        s.push("start"); // Bun sends the headers with the first chunk
        return new Response(s.readable);
      },
    });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/`);
      const reader = res.body!.getReader();
      const line = "x".repeat(1000);
      // 200 MB offered to a client that reads nothing, with pauses for the server to write what
      // the socket takes: once the socket buffers are full, the queue stays at its bound.
      for (let round = 0; round < 200; round++) {
        for (let i = 0; i < 1000; i++) if (!s.push(line)) dropped++;
        await Bun.sleep(1);
      }
      expect(dropped).toBeGreaterThan(150_000);
      await reader.cancel();
    } finally {
      await server.stop(true);
    }
  }, 20_000);
});
