import { describe, expect, test } from "bun:test";
import { authorizeJobEvent, capText } from "../../src/master/jobs/event-guard.ts";
import type { JobEvent } from "../../src/control/index.ts";

const NOW = 1_800_000_000_000;
const ev = (x: Partial<JobEvent> = {}): JobEvent => ({ type: "job_event", eventId: "e1", jobId: 7, attempt: 2, event: "finished", at: NOW, state: "DONE", exitCode: 0, ...x });
const running = { state: "RUN" as const, hostId: 3, attempts: 2 };

describe("authorizeJobEvent: only the host of the current attempt speaks for a job", () => {
  test("the host of the current attempt is accepted", () => {
    expect(authorizeJobEvent(running, 3, ev(), NOW)).toMatchObject({ ok: true });
    expect(authorizeJobEvent(running, 3, ev({ event: "started" }), NOW)).toMatchObject({ ok: true });
  });
  test("another host, an old or future attempt, a job not running or unknown, a second end: refused with the reason", () => {
    const reasons = [
      authorizeJobEvent(running, 4, ev(), NOW),
      authorizeJobEvent(running, 3, ev({ attempt: 1 }), NOW),
      authorizeJobEvent(running, 3, ev({ attempt: 3 }), NOW),
      authorizeJobEvent({ ...running, state: "PEND", hostId: null }, 3, ev(), NOW),
      authorizeJobEvent(undefined, 3, ev(), NOW),
      authorizeJobEvent({ ...running, ending: true }, 3, ev(), NOW),
    ].map((v) => (v.ok ? "ok" : v.reason));
    expect(reasons).toEqual(["job_other_host", "job_stale_attempt", "job_stale_attempt", "job_not_running", "job_not_found", "job_duplicate"]);
  });
  test("what is stored is bounded: output cut to the cap (flagged), implausible exit code, start time and signal dropped", () => {
    const v = authorizeJobEvent(running, 3, ev({ stdout: "a".repeat(5000), stderr: "é".repeat(3000), exitCode: 1e9, startedAt: 1e15, signal: "<script>" }), NOW, 4096);
    if (!v.ok) throw new Error("refused");
    expect(Buffer.byteLength(v.event.stdout!)).toBe(4096);
    expect(v.event.stdoutTruncated).toBe(true);
    expect(Buffer.byteLength(v.event.stderr!)).toBeLessThanOrEqual(4096);
    expect(v.event.stderr!.endsWith("é")).toBe(true); // cut on a character boundary
    expect(v.event.stderrTruncated).toBe(true);
    expect(v.event.exitCode).toBeNull();
    expect(v.event.startedAt).toBeUndefined();
    expect(v.event.signal).toBeNull();
    const ok = authorizeJobEvent(running, 3, ev({ stdout: "short", exitCode: -9, signal: "SIGKILL", startedAt: NOW - 1000 }), NOW, 4096);
    expect(ok.ok && ok.event).toMatchObject({ stdout: "short", exitCode: -9, signal: "SIGKILL", startedAt: NOW - 1000 });
  });
  test("capText keeps text under the cap untouched", () => {
    expect(capText("abc", 3)).toEqual({ text: "abc", cut: false });
    expect(capText("abcd", 3)).toEqual({ text: "abc", cut: true });
    expect(capText("€€", 4)).toEqual({ text: "€", cut: true });
  });
});
