/** Shaping job events (pure): fitting one message, end states, the job's environment. */
import { describe, expect, test } from "bun:test";
import { classifyEnd, clipText, fitEventToMessage, jobEnv, spawnFailure, timeoutReason, DEFAULT_PATH } from "../../../src/agent/jobs/index.ts";
import type { JobEvent } from "../../../src/control/index.ts";

function finished(stdout: string, stderr: string): JobEvent {
  return { type: "job_event", eventId: "b-1", jobId: 1, attempt: 1, event: "finished", at: 1, state: "DONE", exitCode: 0, signal: null, stdout, stderr, stdoutTruncated: false, stderrTruncated: false };
}
const bytes = (e: JobEvent) => Buffer.byteLength(JSON.stringify(e));

describe("fitting a finished event into one message", () => {
  test("an event that fits is left alone", () => {
    const e = finished("out", "err");
    expect(fitEventToMessage(e, 10_000)).toBe(e);
  });

  test("the streams are cut to their heads, sharing the room; a small stream leaves its share to the other", () => {
    const e = fitEventToMessage(finished("a".repeat(5000), "b".repeat(5000)), 4000);
    expect(bytes(e)).toBeLessThanOrEqual(4000);
    expect(bytes(e)).toBeGreaterThan(3990);
    expect(e.stdout!.length - e.stderr!.length).toBeLessThanOrEqual(1);
    expect(e).toMatchObject({ stdoutTruncated: true, stderrTruncated: true });
    const small = fitEventToMessage(finished("a".repeat(5000), "tiny"), 4000);
    expect(small).toMatchObject({ stderr: "tiny", stderrTruncated: false, stdoutTruncated: true });
    expect(bytes(small)).toBeLessThanOrEqual(4000);
    expect(small.stdout!.length).toBeGreaterThan(3500);
  });

  test("escaping counts: NUL bytes take six bytes each in JSON; surrogate pairs are not split", () => {
    const nul = fitEventToMessage(finished("\0".repeat(10_000), ""), 3000);
    expect(bytes(nul)).toBeLessThanOrEqual(3000);
    expect(/^\0+$/.test(nul.stdout!)).toBe(true);
    const emoji = fitEventToMessage(finished("😀".repeat(2000), ""), 3001);
    expect(bytes(emoji)).toBeLessThanOrEqual(3001);
    expect(emoji.stdout!.length % 2).toBe(0);
    expect(clipText("a😀", 2)).toBe("a");
  });
});

describe("how an attempt ended", () => {
  test("our kill → KILLED whatever the status; 0 → DONE; other codes → EXIT; a foreign signal → EXIT with its name", () => {
    expect(classifyEnd({ exitCode: 0, signal: null, killReason: "timeout after 1 s" })).toEqual({ state: "KILLED", exitCode: 0, signal: null, reason: "timeout after 1 s" });
    expect(classifyEnd({ exitCode: 0, signal: null, killReason: null })).toEqual({ state: "DONE", exitCode: 0, signal: null });
    expect(classifyEnd({ exitCode: 2, signal: null, killReason: null })).toMatchObject({ state: "EXIT", exitCode: 2 });
    expect(classifyEnd({ exitCode: null, signal: "SIGSEGV", killReason: null })).toMatchObject({ state: "EXIT", exitCode: null, signal: "SIGSEGV" });
  });

  test("spawn failures: 127 for not found, 126 for not executable, null otherwise", () => {
    expect(spawnFailure("x", { code: "ENOENT", message: "" })).toMatchObject({ state: "EXIT", exitCode: 127 });
    expect(spawnFailure("x", { code: "EACCES", message: "" })).toMatchObject({ exitCode: 126 });
    expect(spawnFailure("x", { code: "EMFILE", message: "too many open files" })).toMatchObject({ exitCode: null, reason: 'cannot start "x": too many open files' });
    expect(spawnFailure("y".repeat(5000), { code: "ENOENT", message: "" }).reason!.length).toBeLessThanOrEqual(1000);
  });

  test("timeout reasons in seconds", () => {
    expect(timeoutReason(300)).toBe("timeout after 0.3 s");
    expect(timeoutReason(90_000)).toBe("timeout after 90 s");
  });
});

describe("the job's environment", () => {
  test("PATH and LANG from the agent, HOME/USER/LOGNAME of the job's user, then msg.env, then GPUs and LAVA_*", () => {
    const me = { name: "nobody", home: "/nonexistent" };
    const env = jobEnv({ PATH: "/p", HOME: "/h", LANG: "en_US.UTF-8", USER: "u", LAVA_TOKEN: "secret" }, { jobId: 3, attempt: 2, env: { LANG: "C", X: "1", LAVA_JOB_ID: "forged", CUDA_VISIBLE_DEVICES: "0,1,2" } }, me, { CUDA_VISIBLE_DEVICES: "1" });
    expect(env).toEqual({ PATH: "/p", HOME: "/nonexistent", LANG: "C", USER: "nobody", LOGNAME: "nobody", X: "1", CUDA_VISIBLE_DEVICES: "1", LAVA_JOB_ID: "3", LAVA_JOB_ATTEMPT: "2" });
    expect(jobEnv({}, { jobId: 1, attempt: 1 }, { name: "me", home: "/home/me" })).toEqual({ PATH: DEFAULT_PATH, HOME: "/home/me", LANG: "C.UTF-8", USER: "me", LOGNAME: "me", LAVA_JOB_ID: "1", LAVA_JOB_ATTEMPT: "1" });
    expect(jobEnv({}, { jobId: 9, attempt: 1, arrayId: 5, arrayIndex: 3, name: "sim" }, me)).toMatchObject({ LAVA_ARRAY_JOB_ID: "5", LAVA_ARRAY_INDEX: "3", LAVA_JOB_NAME: "sim" });
  });
});
