/**
 * stream_logs / stop_logs through the real agent and the fake master: the
 * tail of a file, following appends, truncation and rotation, stop_logs,
 * the policy on real paths (outside the list, a symlink or `..` escaping
 * it), units through journalctl (a fake one on PATH), and that a stream
 * ends with its connection.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { LogLineSchema, LogsEndSchema } from "../../src/control/index.ts";
import { waitFor } from "../helpers/wait.ts";
import type { FakeMaster } from "./fake-master.ts";
import { cleanUp, CONFIG_FILE, forRequest, startRig } from "./harness.ts";
import { GROUP_GONE_MS, groupGone } from "./procs.ts";

let dir: string;
let logDir: string;
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), "lava-logs-")));
  logDir = join(dir, "logs");
  mkdirSync(logDir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(cleanUp);

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);
/** The lines received for a request (log_line messages may carry several, joined by '\n'). */
const received = (m: FakeMaster, id: string) => forRequest(m, "log_line", id).flatMap((l) => (l.line as string).split("\n"));
const ended = (m: FakeMaster, id: string, timeoutMs = 5000) => waitFor(() => forRequest(m, "logs_end", id)[0], timeoutMs, `logs_end of ${id}`);
const streamLogs = (m: FakeMaster, requestId: string, extra: Record<string, unknown>) => m.sendJson({ type: "stream_logs", requestId, follow: false, ...extra });
const rig = (extra: Record<string, unknown> = {}, deps = {}) => startRig({ logs: { allow: [`${logDir}/`], ...extra } }, { logs: { pollMs: 20 }, ...deps });

describe("stream_logs of a file", () => {
  test("without follow: the last 10 lines (default) or `lines`, then logs_end without error", async () => {
    const file = join(logDir, "tail.log");
    writeFileSync(file, lines(1, 15).join("\n") + "\n");
    const { m } = await rig();
    streamLogs(m, "a", { path: file });
    streamLogs(m, "b", { path: file, lines: 3 });
    expect(await ended(m, "a")).toEqual({ type: "logs_end", requestId: "a" });
    expect(received(m, "a")).toEqual(lines(6, 15));
    await ended(m, "b");
    expect(received(m, "b")).toEqual(lines(13, 15));
    for (const x of m.ofType("log_line")) expect(v.safeParse(LogLineSchema, x).success).toBe(true);
    // Every line before the end.
    expect(m.fromAgent.findLastIndex((x) => x.type === "log_line" && x.requestId === "a")).toBeLessThan(m.fromAgent.findIndex((x) => x.type === "logs_end" && x.requestId === "a"));
  });

  test("follow: appended lines arrive as they are written; stop_logs ends with logs_end", async () => {
    const file = join(logDir, "follow.log");
    writeFileSync(file, lines(1, 5).join("\n") + "\n");
    const { m, agent } = await rig();
    streamLogs(m, "f", { path: file, follow: true, lines: 2 });
    await waitFor(() => received(m, "f").length === 2, 5000, "the tail");
    expect(received(m, "f")).toEqual(lines(4, 5));
    appendFileSync(file, "line 6\nline 7\npartial");
    await waitFor(() => received(m, "f").length === 4, 5000, "the appended lines");
    appendFileSync(file, " now whole\n");
    await waitFor(() => received(m, "f").at(-1) === "partial now whole", 5000, "the finished line");
    expect(forRequest(m, "logs_end", "f")).toEqual([]);
    expect(agent.status().logStreams).toBe(1);
    m.sendJson({ type: "stop_logs", requestId: "f" });
    expect(await ended(m, "f")).toEqual({ type: "logs_end", requestId: "f" });
    expect(received(m, "f")).toEqual([...lines(4, 7), "partial now whole"]);
    await waitFor(() => agent.status().logStreams === 0, 5000, "the stream gone");
  }, 10_000);

  test("follow survives truncation (copytruncate) and rotation (rename + new file), each marked", async () => {
    const file = join(logDir, "rot.log");
    writeFileSync(file, "old 1\n");
    const { m } = await rig();
    streamLogs(m, "r", { path: file, follow: true });
    await waitFor(() => received(m, "r").includes("old 1"), 5000, "the first line");
    truncateSync(file, 0);
    writeFileSync(file, "after truncate\n");
    await waitFor(() => received(m, "r").includes("after truncate"), 5000, "the line after the truncation");
    appendFileSync(file, "last of the old file\n");
    renameSync(file, `${file}.1`);
    writeFileSync(file, "new file 1\n");
    await waitFor(() => received(m, "r").includes("new file 1"), 5000, "the new file's line");
    appendFileSync(file, "new file 2\n");
    await waitFor(() => received(m, "r").includes("new file 2"), 5000, "appended to the new file");
    const got = received(m, "r");
    expect(got.filter((l) => !l.startsWith("[lava:"))).toEqual(["old 1", "after truncate", "last of the old file", "new file 1", "new file 2"]);
    expect(got.some((l) => l.includes("was truncated"))).toBe(true);
    expect(got.some((l) => l.includes("was replaced (rotated)"))).toBe(true);
    m.sendJson({ type: "stop_logs", requestId: "r" });
    await ended(m, "r");
  }, 15_000);

  test("a long line is sent in pieces of at most 64 KiB", async () => {
    const file = join(logDir, "long.log");
    writeFileSync(file, "x".repeat(150 * 1024) + "\nshort\n");
    const { m } = await rig();
    streamLogs(m, "l", { path: file });
    await ended(m, "l");
    const got = received(m, "l");
    expect(got.join("")).toBe("x".repeat(150 * 1024) + "short");
    expect(Math.max(...got.map((l) => Buffer.byteLength(l)))).toBeLessThanOrEqual(64 * 1024);
    for (const x of forRequest(m, "log_line", "l")) expect(v.safeParse(LogLineSchema, x).success).toBe(true);
  });

  test("the stream belongs to its connection: when it drops, the stream stops", async () => {
    const file = join(logDir, "conn.log");
    writeFileSync(file, "a\n");
    const { m, agent } = await rig();
    streamLogs(m, "c", { path: file, follow: true });
    await waitFor(() => agent.status().logStreams === 1 && received(m, "c").length === 1, 5000, "streaming");
    m.dropConnections();
    await waitFor(() => agent.status().logStreams === 0, 5000, "the stream stopped");
  }, 10_000);
});

describe("stream_logs: policy", () => {
  test("a path outside agent.logs.allow is refused with what to change; nothing of it is sent", async () => {
    const { m } = await rig();
    streamLogs(m, "p1", { path: "/etc/passwd" });
    const end = await ended(m, "p1");
    expect(v.safeParse(LogsEndSchema, end).success).toBe(true);
    expect(end.error).toContain('"/etc/passwd" is not allowed');
    expect(end.error).toContain(`agent.logs.allow in ${CONFIG_FILE}`);
    expect(forRequest(m, "log_line", "p1")).toEqual([]);
  });

  test("a symlink inside the allowed directory that leads out of it is refused, naming the real path; so is `..`", async () => {
    const outside = join(dir, "secret.txt");
    writeFileSync(outside, "secret\n");
    const link = join(logDir, "escape.log");
    symlinkSync(outside, link);
    const inside = join(logDir, "ok.log");
    writeFileSync(inside, "fine\n");
    symlinkSync(inside, join(logDir, "alias.log"));
    const { m } = await rig();
    streamLogs(m, "s1", { path: link });
    streamLogs(m, "s2", { path: `${logDir}/../secret.txt` });
    streamLogs(m, "s3", { path: join(logDir, "alias.log") }); // a symlink that stays inside is fine
    expect((await ended(m, "s1")).error).toContain(`(real path "${outside}") is not allowed`);
    expect((await ended(m, "s2")).error).toContain("is not allowed");
    expect(await ended(m, "s3")).toEqual({ type: "logs_end", requestId: "s3" });
    expect(received(m, "s3")).toEqual(["fine"]);
    expect(m.ofType("log_line").some((l) => (l.line as string).includes("secret"))).toBe(false);
  });

  test("a missing file: 'no such file' inside the list, a plain refusal outside it; a relative path and a non-file are refused", async () => {
    const { m } = await rig({ allow: [`${logDir}/`, dir] });
    streamLogs(m, "n1", { path: join(logDir, "nope.log") });
    streamLogs(m, "n2", { path: "/root/nope" });
    streamLogs(m, "n3", { path: "relative.log" });
    streamLogs(m, "n4", { path: dir }); // allowed as an exact entry, but a directory
    streamLogs(m, "n5", {});
    expect((await ended(m, "n1")).error).toContain("no such file");
    expect((await ended(m, "n2")).error).toContain("is not allowed");
    expect((await ended(m, "n3")).error).toContain("absolute path");
    expect((await ended(m, "n4")).error).toContain("not a regular file");
    expect((await ended(m, "n5")).error).toBe("give either a path or a unit");
  });
});

describe("stream_logs of a journald unit", () => {
  let bin: string;
  beforeAll(() => {
    bin = join(dir, "bin");
    mkdirSync(bin);
    // A fake journalctl: prints its arguments and its pid, then a line per tick while following.
    writeFileSync(
      join(bin, "journalctl"),
      '#!/bin/sh\necho "args: $*"\necho "pid $$"\ncase " $* " in *" -f "*) i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.05; done;; esac\n',
    );
    chmodSync(join(bin, "journalctl"), 0o755);
  });

  test("a unit not on agent.logs.units is refused", async () => {
    const { m } = await rig();
    streamLogs(m, "u1", { unit: "sshd.service" });
    expect((await ended(m, "u1")).error).toContain(`unit "sshd.service" is not allowed: add it to agent.logs.units in ${CONFIG_FILE}`);
  });

  test("an allowed unit runs journalctl -u UNIT -o cat -n N [-f]; stop_logs kills it", async () => {
    const { m } = await rig({ units: ["app.service"] }, { env: { PATH: `${bin}:${process.env.PATH}` } });
    streamLogs(m, "u2", { unit: "app.service", lines: 5 });
    expect(await ended(m, "u2")).toEqual({ type: "logs_end", requestId: "u2" });
    expect(received(m, "u2")[0]).toBe("args: -u app.service -o cat -n 5");

    streamLogs(m, "u3", { unit: "app.service", follow: true });
    await waitFor(() => received(m, "u3").includes("tick 3"), 5000, "following");
    expect(received(m, "u3")[0]).toBe("args: -u app.service -o cat -n 10 -f");
    const pid = Number(received(m, "u3")[1]!.slice(4));
    m.sendJson({ type: "stop_logs", requestId: "u3" });
    expect(await ended(m, "u3")).toEqual({ type: "logs_end", requestId: "u3" });
    await waitFor(() => groupGone(pid), GROUP_GONE_MS, "journalctl's group gone");
  }, 20_000);

  test("journalctl missing: logs_end says so", async () => {
    const { m } = await rig({ units: ["app.service"] }, { env: { PATH: join(dir, "empty-path") } });
    streamLogs(m, "u4", { unit: "app.service" });
    expect((await ended(m, "u4")).error).toContain("journalctl");
  });
});
