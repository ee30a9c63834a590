/** ctl's pure parts for exec, logs, check, health/alerts/upgrade views. */
import { describe, expect, test } from "bun:test";
import { CHECK, CHECK_DEFAULTS, checkVerdict, type CheckInput } from "../../src/ctl/check-status.ts";
import { thresholds } from "../../src/ctl/check.ts";
import { execRequest } from "../../src/ctl/exec.ts";
import { ExecCollector, PARTIAL_LINE_MAX } from "../../src/ctl/exec-view.ts";
import { logsQuery } from "../../src/ctl/logs.ts";
import { alertsTable, healthTable, upgradeLine } from "../../src/ctl/remote-views.ts";
import { eachLine } from "../../src/ctl/stream.ts";
import { LavaError } from "../../src/cli/errors.ts";

const usage = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof LavaError ? e.exitCode : -1;
  }
  return 0;
};

describe("ctl check verdict", () => {
  const base: CheckInput = {
    masters: [{ address: "m1:6880", up: true }, { address: "m2:6880", up: true }],
    hosts: { ok: 18, busy: 2, drained: 0, unavail: 0, unreach: 0, total: 20 },
    alerts: [],
    error: null,
  };
  const with_ = (o: Partial<CheckInput>) => checkVerdict({ ...base, ...o }, CHECK_DEFAULTS);

  test("all well: OK with perfdata", () => {
    expect(with_({})).toEqual({
      code: CHECK.ok,
      state: "OK",
      summary: "20 hosts, 0 down, no alerts, 2/2 masters up",
      perf: { hosts: 20, ok: 18, unavail: 0, unreach: 0, alerts_warning: 0, alerts_critical: 0, masters_up: "2/2" },
      line: "LAVA OK - 20 hosts, 0 down, no alerts, 2/2 masters up | hosts=20 ok=18 unavail=0 unreach=0 alerts_warning=0 alerts_critical=0 masters_up=2/2",
    });
    expect(with_({ hosts: { total: 0 } }).code).toBe(CHECK.ok);
  });

  test("hosts down: WARNING from --warn-unavail, CRITICAL from --crit-unavail-pct", () => {
    const one = with_({ hosts: { ...base.hosts!, ok: 17, unreach: 1 } });
    expect(one.code).toBe(CHECK.warning);
    expect(one.line).toStartWith("LAVA WARNING - 1 of 20 hosts down (unavail 0, unreach 1) |");
    expect(with_({ hosts: { ...base.hosts!, ok: 16, unavail: 2 } }).code).toBe(CHECK.critical); // 10 %
    expect(checkVerdict({ ...base, hosts: { ...base.hosts!, unavail: 1 } }, { warnUnavail: 2, critUnavailPct: 10 }).code).toBe(CHECK.ok);
    expect(checkVerdict({ ...base, hosts: { ...base.hosts!, unavail: 5 } }, { warnUnavail: 0, critUnavailPct: 0 }).code).toBe(CHECK.ok);
  });

  test("alerts: warning → WARNING, critical → CRITICAL, named in the summary", () => {
    const w = with_({ alerts: [{ host: "n7", id: "disk-full", severity: "warning" }, { host: "n1", id: "x", severity: "info" }] });
    expect(w.code).toBe(CHECK.warning);
    expect(w.line).toContain("1 warning alert (n7 disk-full)");
    const c = with_({ alerts: [{ host: "n7", id: "disk-full", severity: "warning" }, { host: "n2", id: "cpu", severity: "critical" }] });
    expect(c.code).toBe(CHECK.critical);
    expect(c.line).toStartWith("LAVA CRITICAL - 1 critical alert (n2 cpu); 1 warning alert (n7 disk-full) |");
    expect(c.line).toEndWith("alerts_warning=1 alerts_critical=1 masters_up=2/2");
  });

  test("masters: one silent is WARNING, none answering is UNKNOWN, an unreadable state is UNKNOWN", () => {
    const one = with_({ masters: [{ address: "m1:6880", up: true }, { address: "m2:6880", up: false }] });
    expect(one.code).toBe(CHECK.warning);
    expect(one.line).toContain("master m2:6880 not answering");
    expect(one.line).toContain("masters_up=1/2");
    const none = with_({ masters: [{ address: "m1:6880", up: false }], hosts: null, alerts: null });
    expect(none.code).toBe(CHECK.unknown);
    expect(none.line).toStartWith("LAVA UNKNOWN - no master answers /healthz (tried m1:6880) |");
    const bad = with_({ hosts: null, alerts: null, error: "token refused | check it" });
    expect(bad.code).toBe(CHECK.unknown);
    expect(bad.line.split("|")).toHaveLength(2); // a '|' in a message would start the perfdata
  });

  test("threshold flags", () => {
    expect(thresholds(undefined, undefined)).toEqual(CHECK_DEFAULTS);
    expect(thresholds("3", "25.5")).toEqual({ warnUnavail: 3, critUnavailPct: 25.5 });
    expect(() => thresholds("-1", undefined)).toThrow("--warn-unavail");
    expect(() => thresholds(undefined, "101")).toThrow("--crit-unavail-pct");
  });
});

describe("ctl exec", () => {
  test("the request body from the flags; mistakes are usage errors", () => {
    expect(execRequest({ hosts: "a, b,,c" }, ["uptime"], [])).toEqual({ hosts: ["a", "b", "c"], argv: ["uptime"] });
    expect(execRequest({ all: true, timeout: "2.5" }, ["ls", "-l"], [])).toEqual({ all: true, argv: ["ls", "-l"], timeoutSec: 2.5 });
    expect(execRequest({ queue: "gpu" }, ["x"], [])).toEqual({ queue: "gpu", argv: ["x"] });
    expect(usage(() => execRequest({ all: true }, null, []))).toBe(2);
    expect(usage(() => execRequest({ all: true }, ["x"], ["stray"]))).toBe(2);
    expect(usage(() => execRequest({}, ["x"], []))).toBe(2);
    expect(usage(() => execRequest({ all: true, hosts: "a" }, ["x"], []))).toBe(2);
    expect(usage(() => execRequest({ hosts: "," }, ["x"], []))).toBe(2);
    expect(usage(() => execRequest({ all: true, timeout: "0" }, ["x"], []))).toBe(2);
    expect(usage(() => execRequest({ all: true, timeout: "soon" }, ["x"], []))).toBe(2);
  });

  test("output becomes whole lines prefixed with the host, however the chunks are cut", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const c = new ExecCollector(false, { stdout: (l) => void out.push(l), stderr: (l) => void err.push(l) });
    const ev = (e: Record<string, unknown>) => c.event(e);
    await ev({ type: "start", hosts: 2 });
    await ev({ type: "output", host: "a", stream: "stdout", data: "he" });
    await ev({ type: "output", host: "b", stream: "stdout", data: "B1\nB" });
    await ev({ type: "output", host: "a", stream: "stdout", data: "llo\nwor" });
    await ev({ type: "output", host: "a", stream: "stderr", data: "oops\n" });
    await ev({ type: "result", host: "a", status: "ok", exitCode: 0 });
    await ev({ type: "result", host: "b", status: "timeout", exitCode: null, error: "killed after 1 s" });
    await ev({ type: "done", hosts: 2, ok: 1, failed: 1 });
    expect(out).toEqual(["b: B1", "a: hello", "a: wor", "b: B"]);
    expect(err).toEqual(["a: oops", "b: timeout: killed after 1 s"]);
    expect(c.succeeded).toBe(false);
    expect(c.summary()).toBe("lava: exec on 2 hosts: 1 ok, 1 failed");
  });

  test("a very long line without a newline is printed in pieces; a missing done is a failure", async () => {
    const out: string[] = [];
    const c = new ExecCollector(false, { stdout: (l) => void out.push(l), stderr: () => {} });
    await c.event({ type: "output", host: "a", stream: "stdout", data: "x".repeat(PARTIAL_LINE_MAX + 5) });
    expect(out).toEqual([`a: ${"x".repeat(PARTIAL_LINE_MAX)}`]);
    await c.event({ type: "result", host: "a", status: "ok", exitCode: 0 });
    expect(out[1]).toBe("a: xxxxx");
    expect(c.succeeded).toBe(false);
    expect(c.summary()).toContain("the answer ended early");
  });

  test("--json collects per host; every host exit 0 is success", async () => {
    const c = new ExecCollector(true, { stdout: () => { throw new Error("nothing printed with --json"); }, stderr: () => {} });
    await c.event({ type: "output", host: "b", stream: "stdout", data: "1\n" });
    await c.event({ type: "output", host: "b", stream: "stderr", data: "e" });
    await c.event({ type: "result", host: "b", status: "ok", exitCode: 0, signal: null, durationMs: 5, stdoutTruncated: true });
    await c.event({ type: "result", host: "a", status: "ok", exitCode: 0, droppedBytes: 10 });
    await c.event({ type: "mystery", x: 1 });
    await c.event({ type: "done", hosts: 2, ok: 2, failed: 0 });
    expect(c.succeeded).toBe(true);
    expect(c.sorted()).toEqual([
      { host: "a", status: "ok", exitCode: 0, signal: null, stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false, durationMs: null, error: null },
      { host: "b", status: "ok", exitCode: 0, signal: null, stdout: "1\n", stderr: "e", stdoutTruncated: true, stderrTruncated: false, durationMs: 5, error: null },
    ]);
    expect(c.summary()).toContain("output lost in transit on 1 host(s)");
  });

  test("lines of a stream, cut anywhere (even inside a UTF-8 character)", async () => {
    const bytes = new TextEncoder().encode("ä1\nzwei\n\ndrei");
    const parts = [bytes.slice(0, 1), bytes.slice(1, 5), bytes.slice(5)];
    const body = new ReadableStream<Uint8Array>({ start(c) { for (const p of parts) c.enqueue(p); c.close(); } });
    const got: string[] = [];
    await eachLine(body, (l) => void got.push(l));
    expect(got).toEqual(["ä1", "zwei", "", "drei"]);
  });
});

describe("ctl logs and views", () => {
  test("the logs query", () => {
    expect(logsQuery(["h", "/var/log/syslog"], {})).toBe("path=%2Fvar%2Flog%2Fsyslog");
    expect(logsQuery(["h"], { unit: "sshd", follow: true, lines: "50" })).toBe("unit=sshd&follow=1&lines=50");
    expect(usage(() => logsQuery(["h"], {}))).toBe(2);
    expect(usage(() => logsQuery(["h", "/x"], { unit: "u" }))).toBe(2);
    expect(usage(() => logsQuery(["h", "/x"], { lines: "-1" }))).toBe(2);
    expect(usage(() => logsQuery([], {}))).toBe(2);
  });

  test("health and alert tables; upgrade progress lines", () => {
    const now = Date.parse("2026-01-01T00:01:00Z");
    const health = healthTable([
      { host: "a", status: "warning", at: "2026-01-01T00:00:00Z", checks: { disk: { status: "ok", detail: "" }, mem: { status: "warning", detail: "91%" } } },
      { host: "b", status: "unknown", at: null, checks: {} },
    ], now);
    expect(health.split("\n")).toEqual(["HOST  STATUS   AGE  CHECKS", "a     warning   1m  mem=warning", "b     unknown    -  none reported"]);
    const alerts = alertsTable([{ host: "a", id: "cpu", severity: "critical", state: "firing", value: 95.123, since: "2026-01-01T00:00:30Z", message: "cpu\nhigh" }], now);
    expect(alerts.split("\n")[1]).toBe("critical  a     cpu    firing  95.12    30s  cpu high");
    expect(upgradeLine({ type: "plan", target: "2.0", waves: [["a", "b"], ["c"]], current: ["d"], unreachable: [], unknown: [] })).toBe("upgrading 3 hosts to 2.0 in 2 waves (1 already on it)");
    expect(upgradeLine({ type: "host", host: "a", status: "ok", fromVersion: "1.0", version: "2.0", durationMs: 2500 })).toBe("a: ok, 1.0 → 2.0 (2.5 s)");
    expect(upgradeLine({ type: "host", host: "c", status: "timeout", error: "did not come back" })).toBe("c: timeout: did not come back");
    expect(upgradeLine({ type: "done", ok: 2, current: 1, failed: 1, skipped: 0, stopped: false })).toBe("done: 2 upgraded, 1 already current, 1 failed, 0 skipped");
    expect(upgradeLine({ type: "future" })).toBeNull();
  });
});
