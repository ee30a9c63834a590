/**
 * The sending end of a log stream against a fake channel: coalescing, the
 * rate bound, holding back while the socket's buffer is full, and dropping
 * (marked) instead of buffering without bound.
 */
import { describe, expect, test } from "bun:test";
import { LogSink, type LogChannel } from "../../../src/agent/logs/index.ts";
import type { LogLine, LogsEnd } from "../../../src/control/index.ts";
import { waitFor } from "../../helpers/wait.ts";

function channel() {
  const sent: (LogLine | LogsEnd)[] = [];
  /** `polls` counts the flushes that looked at the socket's buffer. */
  const ch = { buffered: 0, open: true, sent, polls: 0 };
  const c: LogChannel = {
    send: (m) => ch.open && sent.push(m) > 0,
    bufferedAmount: () => (ch.polls++, ch.buffered),
  };
  return { ch, c };
}
const texts = (sent: (LogLine | LogsEnd)[]) => sent.flatMap((m) => (m.type === "log_line" ? [m.line] : []));

describe("LogSink", () => {
  test("many short lines go out coalesced into few messages, then logs_end", async () => {
    const { ch, c } = channel();
    const sink = new LogSink("r", c, { flushMs: 5, wallClock: () => 42 });
    sink.push(Array.from({ length: 1000 }, (_, i) => `l${i}`));
    await waitFor(() => texts(ch.sent).join("\n").split("\n").length === 1000, 2000, "all lines");
    expect(ch.sent.length).toBe(1);
    expect(ch.sent[0]).toMatchObject({ type: "log_line", requestId: "r", at: 42 });
    sink.end();
    expect(ch.sent.at(-1)).toEqual({ type: "logs_end", requestId: "r" });
    sink.push(["after the end"]);
    sink.end("twice");
    expect(ch.sent.filter((m) => m.type === "logs_end")).toHaveLength(1);
  });

  test("at most messagesPerFlush messages per flush", async () => {
    const { ch, c } = channel();
    const sink = new LogSink("r", c, { flushMs: 5, messagesPerFlush: 2 });
    sink.push(Array.from({ length: 10 }, () => "y".repeat(60 * 1024))); // one per message
    await waitFor(() => ch.sent.length >= 2, 2000, "the first flush");
    expect(ch.sent.length % 2).toBe(0);
    await waitFor(() => ch.sent.length === 10, 2000, "all");
    sink.close();
  });

  test("a slow channel: nothing is sent while its buffer is full; the queue stays bounded, drops the oldest and marks it", async () => {
    const { ch, c } = channel();
    ch.buffered = 10 << 20;
    const sink = new LogSink("r", c, { flushMs: 5, queueChars: 1000, highWaterBytes: 1000 });
    for (let i = 0; i < 500; i++) sink.push([`line ${i}`]);
    await waitFor(() => ch.polls >= 3, 2000, "three flushes");
    expect(ch.sent).toEqual([]);
    expect(sink.dropped).toBeGreaterThan(300);
    ch.buffered = 0;
    await waitFor(() => texts(ch.sent).join("\n").includes("line 499"), 2000, "the newest lines");
    const lines = texts(ch.sent).join("\n").split("\n");
    expect(lines[0]).toBe(`[lava: ${sink.dropped} lines dropped here: the log grew faster than the control channel carried it]`);
    expect(lines.at(-1)).toBe("line 499");
    expect(lines).not.toContain("line 0");
    sink.close();
  });

  test("pushWaiting waits for room instead of dropping", async () => {
    const { ch, c } = channel();
    ch.buffered = 10 << 20;
    const sink = new LogSink("r", c, { flushMs: 5, queueChars: 100, highWaterBytes: 1000 });
    let done = false;
    const p = sink.pushWaiting(Array.from({ length: 100 }, (_, i) => `w${i}`)).then(() => (done = true));
    await waitFor(() => ch.polls >= 3, 2000, "three flushes");
    expect(done).toBe(false);
    ch.buffered = 0;
    await p;
    sink.end();
    expect(texts(ch.sent).join("\n").split("\n")).toEqual(Array.from({ length: 100 }, (_, i) => `w${i}`));
    expect(sink.dropped).toBe(0);
  });
});
