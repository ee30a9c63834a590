/**
 * `execute` through the real agent and the fake master over a WebSocket:
 * the allowlist, spawn failures, timeouts that leave no process of the
 * group behind, output streamed before the result and bounded, results
 * kept while the channel is down, the concurrency bound, and stop().
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { CommandOutputSchema, CommandResultSchema } from "../../src/control/index.ts";
import { waitFor } from "../helpers/wait.ts";
import type { FakeMaster } from "./fake-master.ts";
import { cleanUp, CONFIG_FILE, forRequest, startRig } from "./harness.ts";
import { GROUP_GONE_MS, groupGone, groupMembers } from "./procs.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "lava-exec-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(cleanUp);

const execute = (m: FakeMaster, requestId: string, argv: string[], extra: Record<string, unknown> = {}) => m.sendJson({ type: "execute", requestId, argv, timeoutMs: 10_000, ...extra });
const result = (m: FakeMaster, id: string, timeoutMs = 5000) => waitFor(() => forRequest(m, "command_result", id)[0], timeoutMs, `command_result of ${id}`);
/** stdout (or stderr) of a request, chunks joined. */
const output = (m: FakeMaster, id: string, stream = "stdout") =>
  forRequest(m, "command_output", id)
    .filter((c) => c.stream === stream)
    .map((c) => c.data as string)
    .join("");
/** The pid the command printed first ("pid 1234"): its process group id. */
const printedPid = (m: FakeMaster, id: string) => waitFor(() => Number(/pid (\d+)/.exec(output(m, id))?.[1]) || null, 5000, `the pid printed by ${id}`);

describe("execute: policy and outcomes", () => {
  test("an allowed bare name runs through PATH: output as command_output, then command_result ok with the exit code", async () => {
    const { m } = await startRig({ exec: { allow: ["echo", "sh"] } });
    execute(m, "e1", ["echo", "hello", "$HOME; `x`"]);
    execute(m, "e2", ["sh", "-c", "echo out; echo err >&2; exit 3"]);
    const r1 = await result(m, "e1");
    expect(r1).toMatchObject({ type: "command_result", requestId: "e1", status: "ok", exitCode: 0, signal: null, stdoutTruncated: false, stderrTruncated: false });
    expect(r1.durationMs).toBeGreaterThanOrEqual(0);
    expect(output(m, "e1")).toBe("hello $HOME; `x`\n"); // argv, never a shell
    expect(await result(m, "e2")).toMatchObject({ status: "ok", exitCode: 3 });
    expect(output(m, "e2")).toBe("out\n");
    expect(output(m, "e2", "stderr")).toBe("err\n");
    for (const x of m.fromAgent.filter((x) => x.type === "command_output")) expect(v.safeParse(CommandOutputSchema, x).success).toBe(true);
    for (const x of m.ofType("command_result")) expect(v.safeParse(CommandResultSchema, x).success).toBe(true);
    // Every chunk of a request before its result.
    const idx = (pred: (x: Record<string, unknown>) => boolean) => m.fromAgent.findIndex(pred);
    expect(idx((x) => x.type === "command_output" && x.requestId === "e1")).toBeLessThan(idx((x) => x.type === "command_result" && x.requestId === "e1"));
  });

  test("refused unless argv[0] is on agent.exec.allow exactly: the error says what to change in which file", async () => {
    const { m } = await startRig({ exec: { allow: ["uptime", "/usr/bin/env"] } });
    const fake = join(dir, "uptime");
    writeFileSync(fake, "#!/bin/sh\ntouch " + join(dir, "ran") + "\n");
    chmodSync(fake, 0o755);
    execute(m, "r1", [fake]); // a path never matches the bare name
    execute(m, "r2", ["env"]); // the bare name does not match the path entry
    execute(m, "r3", ["/bin/rm", "-rf", dir]);
    const r1 = await result(m, "r1");
    expect(r1).toEqual({ type: "command_result", requestId: "r1", status: "refused", error: expect.stringContaining(`to agent.exec.allow in ${CONFIG_FILE}`) });
    expect(r1.error).toContain(JSON.stringify(fake));
    expect(await result(m, "r2")).toMatchObject({ status: "refused" });
    expect(await result(m, "r3")).toMatchObject({ status: "refused" });
    expect(forRequest(m, "command_output", "r1")).toEqual([]);
    expect(await Bun.file(join(dir, "ran")).exists()).toBe(false);
  });

  test("an empty allowlist refuses everything", async () => {
    const { m } = await startRig();
    execute(m, "r1", ["true"]);
    expect((await result(m, "r1")).error).toContain("agent.exec.allow is empty");
  });

  test("spawn failures end 'failed' with why: not found, not executable", async () => {
    const notExec = join(dir, "not-executable");
    writeFileSync(notExec, "#!/bin/sh\necho never\n");
    chmodSync(notExec, 0o644);
    const { m } = await startRig({ exec: { allow: ["lava-no-such-command-xyz", notExec] } });
    execute(m, "f1", ["lava-no-such-command-xyz"]);
    execute(m, "f2", [notExec]);
    const f1 = await result(m, "f1");
    expect(f1).toMatchObject({ status: "failed" });
    expect(f1.error).toContain("command not found");
    expect(f1.error).toContain("the agent's PATH");
    const f2 = await result(m, "f2");
    expect(f2).toMatchObject({ status: "failed" });
    expect(f2.error).toContain("not executable");
  });
});

describe("execute: timeouts and the process group", () => {
  test("a timeout kills the whole group (children too): status timeout, nothing of the group left", async () => {
    const { m } = await startRig({ exec: { allow: ["sh"] } });
    execute(m, "t1", ["sh", "-c", "echo pid $$; sleep 30 & sleep 30 & wait"], { timeoutMs: 500 });
    const pgid = await printedPid(m, "t1");
    await waitFor(() => groupMembers(pgid).length === 3, 5000, "sh and its two sleeps");
    const r = await result(m, "t1", 8000);
    expect(r).toMatchObject({ status: "timeout", signal: "SIGTERM", exitCode: null });
    expect(r.error).toContain("timeout after 0.5 s");
    await waitFor(() => groupGone(pgid), GROUP_GONE_MS, `process group ${pgid} gone`);
  }, 20_000);

  test("a command that ignores SIGTERM is SIGKILLed after the grace", async () => {
    const { m } = await startRig({ exec: { allow: ["sh"] } }, { exec: { killGraceMs: 300 } });
    execute(m, "t2", ["sh", "-c", 'trap "" TERM; echo pid $$; sleep 30'], { timeoutMs: 300 });
    const pgid = await printedPid(m, "t2");
    const r = await result(m, "t2", 8000);
    expect(r).toMatchObject({ status: "timeout", signal: "SIGKILL" });
    await waitFor(() => groupGone(pgid), GROUP_GONE_MS, `process group ${pgid} gone`);
  }, 20_000);

  test("what a command leaves in its group when it exits is killed too", async () => {
    const { m } = await startRig({ exec: { allow: ["sh"] } });
    execute(m, "t3", ["sh", "-c", "echo pid $$; sleep 30 &"]);
    const pgid = await printedPid(m, "t3");
    expect(await result(m, "t3")).toMatchObject({ status: "ok", exitCode: 0 });
    await waitFor(() => groupGone(pgid), GROUP_GONE_MS, `process group ${pgid} gone`);
  }, 20_000);

  test("stop(): running commands are killed (no orphans) and end 'failed', sent before the channel closes", async () => {
    const { m, agent } = await startRig({ exec: { allow: ["sh"] } });
    execute(m, "s1", ["sh", "-c", "echo pid $$; sleep 30 & wait"]);
    const pgid = await printedPid(m, "s1");
    await agent.stop();
    expect(forRequest(m, "command_result", "s1")[0]).toMatchObject({ status: "failed", error: "killed: agent stopping" });
    await waitFor(() => groupGone(pgid), GROUP_GONE_MS, `process group ${pgid} gone`);
  }, 20_000);
});

describe("execute: output", () => {
  test("output streams while the command runs: the first line arrives before the command has ended", async () => {
    const { m } = await startRig({ exec: { allow: ["sh"] } });
    const gate = join(dir, "gate");
    execute(m, "o1", ["sh", "-c", `echo first; while [ ! -e ${gate} ]; do sleep 0.05; done; echo second`]);
    await waitFor(() => output(m, "o1") === "first\n", 5000, "the first line");
    expect(forRequest(m, "command_result", "o1")).toEqual([]);
    writeFileSync(gate, "");
    expect(await result(m, "o1")).toMatchObject({ status: "ok" });
    expect(output(m, "o1")).toBe("first\nsecond\n");
  }, 10_000);

  test("each stream is cut at the request's bound and marked truncated; the command is not blocked", async () => {
    const { m } = await startRig({ exec: { allow: ["sh"] } });
    execute(m, "b1", ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; echo small >&2"], { outputLimitBytes: 1000 });
    expect(await result(m, "b1", 10_000)).toMatchObject({ status: "ok", exitCode: 0, stdoutTruncated: true, stderrTruncated: false });
    expect(output(m, "b1")).toBe("a".repeat(1000));
    expect(output(m, "b1", "stderr")).toBe("small\n");
  }, 15_000);

  test("without a bound in the request, agent.exec.outputLimit applies; chunks are at most 64 KiB", async () => {
    const { m } = await startRig({ exec: { allow: ["sh"], outputLimit: 200_000 } });
    execute(m, "b2", ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' b"]);
    expect(await result(m, "b2", 10_000)).toMatchObject({ status: "ok", stdoutTruncated: true });
    const chunks = forRequest(m, "command_output", "b2").map((c) => c.data as string);
    expect(chunks.join("")).toBe("b".repeat(200_000));
    expect(Math.max(...chunks.map((c) => Buffer.byteLength(c)))).toBeLessThanOrEqual(64 * 1024);
    expect(chunks.length).toBeGreaterThanOrEqual(4);
  }, 15_000);
});

describe("execute: bounds and delivery", () => {
  test("over the concurrency bound: refused busy; a repeated requestId while running is ignored", async () => {
    const { m, agent } = await startRig({ exec: { allow: ["sleep"] } }, { exec: { runningMax: 1 } });
    execute(m, "c1", ["sleep", "30"]);
    await waitFor(() => agent.status().commandsRunning === 1, 5000, "c1 running");
    execute(m, "c1", ["sleep", "30"]);
    execute(m, "c2", ["sleep", "30"]);
    expect((await result(m, "c2")).error).toContain("busy");
    expect(agent.status().commandsRunning).toBe(1);
    expect(forRequest(m, "command_result", "c1")).toEqual([]);
  }, 10_000);

  test("a result produced while the channel is down is kept and sent after the next registration", async () => {
    const { m, agent } = await startRig({ exec: { allow: ["sh"] } });
    const gate = join(dir, "gate-down");
    execute(m, "d1", ["sh", "-c", `while [ ! -e ${gate} ]; do sleep 0.05; done; echo done`]);
    await waitFor(() => agent.status().commandsRunning === 1, 5000, "d1 running");
    m.refuse = true;
    m.dropConnections();
    await waitFor(() => agent.status().state !== "registered", 5000, "the drop");
    writeFileSync(gate, "");
    await waitFor(() => agent.status().commandResultsKept === 1, 5000, "the result kept");
    expect(forRequest(m, "command_result", "d1")).toEqual([]);
    m.refuse = false;
    expect(await result(m, "d1", 10_000)).toMatchObject({ status: "ok", exitCode: 0 });
    expect(agent.status().commandResultsKept).toBe(0);
  }, 20_000);
});
