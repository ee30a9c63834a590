/** The job-event outbox (pure): order, acks, and its two bounds. */
import { describe, expect, test } from "bun:test";
import { Outbox } from "../../../src/agent/jobs/index.ts";
import type { JobEvent } from "../../../src/control/index.ts";

function started(n: number): JobEvent {
  return { type: "job_event", eventId: `e${n}`, jobId: n, attempt: 1, event: "started", at: n, pid: 100 + n };
}
function finished(n: number, output = ""): JobEvent {
  return { type: "job_event", eventId: `e${n}`, jobId: n, attempt: 1, event: "finished", at: n, state: "DONE", exitCode: 0, signal: null, stdout: output, stderr: output, stdoutTruncated: false, stderrTruncated: false };
}

describe("job event outbox", () => {
  test("keeps events in order until acked; unknown and repeated acks are ignored", () => {
    const o = new Outbox();
    for (const e of [started(1), finished(2), started(3)]) o.push(e);
    expect(o.all().map((e) => e.eventId)).toEqual(["e1", "e2", "e3"]);
    expect(o.ack(["e2", "nope"])).toBe(1);
    expect(o.ack(["e2"])).toBe(0);
    expect(o.all().map((e) => e.eventId)).toEqual(["e1", "e3"]);
    expect(o.size).toBe(2);
  });

  test("over the event bound the oldest started events go first, never a finished", () => {
    const o = new Outbox({ eventsMax: 3 });
    o.push(finished(1));
    o.push(started(2));
    o.push(started(3));
    const r = o.push(finished(4));
    expect(r).toEqual({ droppedStarted: 1, shrunk: 0, overBound: false });
    expect(o.all().map((e) => e.eventId)).toEqual(["e1", "e3", "e4"]);
    o.push(finished(5));
    const r2 = o.push(finished(6));
    // Only finished events left: kept, over the bound.
    expect(r2.overBound).toBe(true);
    expect(o.all().map((e) => e.eventId)).toEqual(["e1", "e4", "e5", "e6"]);
    expect(o.droppedTotal).toBe(2);
  });

  test("over the output bound the oldest finished events are cut to a short head and marked truncated", () => {
    const o = new Outbox({ outputCharsMax: 1000, shrunkOutputChars: 10 });
    o.push(finished(1, "a".repeat(200)));
    o.push(finished(2, "b".repeat(200)));
    expect(o.all().every((e) => !e.stdoutTruncated)).toBe(true);
    const r = o.push(finished(3, "c".repeat(200)));
    expect(r.shrunk).toBe(1);
    const [first, second, third] = o.all();
    expect(first).toMatchObject({ stdout: "a".repeat(10), stderr: "a".repeat(10), stdoutTruncated: true, stderrTruncated: true, state: "DONE", exitCode: 0 });
    expect(second!.stdout).toBe("b".repeat(200));
    expect(third!.stdout).toBe("c".repeat(200));
    // Acked output no longer counts.
    o.ack(["e2", "e3"]);
    o.push(finished(4, "d".repeat(400)));
    expect(o.all().at(-1)!.stdout).toBe("d".repeat(400));
  });
});
