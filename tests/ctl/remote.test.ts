/** ctl's pure parts for exec, logs, check, health/alerts/upgrade views. */
import { exitStatusOf } from "../../src/main.ts";
import { describe, expect, test } from "bun:test";
import { CHECK, CHECK_DEFAULTS, checkVerdict, nameSome, type CheckInput } from "../../src/ctl/check-status.ts";
import { thresholds } from "../../src/ctl/check.ts";
import { execRequest } from "../../src/ctl/exec.ts";
import { ExecCollector, PARTIAL_LINE_MAX } from "../../src/ctl/exec-view.ts";
import { logsQuery } from "../../src/ctl/logs.ts";
import { alertsTable, healthTable, upgradeLine } from "../../src/ctl/remote-views.ts";
import { eachLine } from "../../src/ctl/stream.ts";
import { LavaError } from "../../src/errors.ts";

const usage = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof LavaError ? exitStatusOf(e) : -1;
  }
  return 0;
};

/**
 * The perfdata grammar of the Nagios plugin development guidelines
 * ("Performance data"): space-separated 'label'=value[UOM];[warn];[crit];[min];[max],
 * value, min and max numeric ([-0-9.]), UOM one of s ms us % B KB MB TB c,
 * warn and crit in the range format [@][start:][end] (start may be ~),
 * trailing empty fields droppable, labels quoted with ' when they hold
 * spaces (a quote doubled), never holding = or a bare '.
 */
const NUM = String.raw`-?[0-9]+(?:\.[0-9]+)?`;
const RANGE = String.raw`@?(?:(?:~|${NUM})?:)?(?:${NUM})?`;
const LABEL = String.raw`(?:'(?:[^'=]|'')+'|[^'=\s]+)`;
const PERF_ITEM = new RegExp(String.raw`^${LABEL}=${NUM}(?:s|ms|us|%|B|KB|MB|TB|c)?(?:;(?:${RANGE})?(?:;(?:${RANGE})?(?:;(?:${NUM})?(?:;(?:${NUM})?)?)?)?)?$`);

/** The plugin line split as the guidelines define it: text before the first '|', perfdata after; every item must parse. */
function parsePluginLine(line: string): { text: string; perf: Record<string, { value: number; warn: string; crit: string; min: string; max: string }> | null } {
  const bar = line.indexOf("|");
  if (bar < 0) return { text: line, perf: null };
  const perf: Record<string, { value: number; warn: string; crit: string; min: string; max: string }> = {};
  for (const item of line.slice(bar + 1).trim().split(/ +/)) {
    if (!PERF_ITEM.test(item)) throw new Error(`perfdata item "${item}" does not follow the plugin guidelines`);
    const [lv, warn = "", crit = "", min = "", max = ""] = item.split(";");
    const eq = lv!.lastIndexOf("=");
    perf[lv!.slice(0, eq).replace(/^'|'$/g, "")] = { value: Number.parseFloat(lv!.slice(eq + 1)), warn, crit, min, max };
  }
  return { text: line.slice(0, bar).trim(), perf };
}

describe("perfdata grammar (the test's own parser)", () => {
  test("accepts the guidelines' examples and refuses what they forbid", () => {
    for (const ok of ["a=1", "masters_up=1;;;0;1", "'disk usage'=10%;80;90;0;100", "t=0.5s;@1:2;~:3", "x=-1.5;;10:", "'it''s'=3c"]) expect(PERF_ITEM.test(ok)).toBe(true);
    for (const bad of ["masters_up=1/1", "a=", "a=x", "a=1;;;zero", "a b=1", "a=1MiB", "=1"]) expect(PERF_ITEM.test(bad)).toBe(false);
  });
});

describe("ctl check verdict", () => {
  const base: CheckInput = {
    masters: [{ address: "m1:6880", up: true }, { address: "m2:6880", up: true }],
    hosts: { ok: 18, busy: 2, drained: 0, unavail: 0, unreach: 0, total: 20 },
    alerts: [],
    error: null,
    downHosts: [],
    master: { upForMs: 3_600_000, reportIntervalMs: 4000 },
  };
  const with_ = (o: Partial<CheckInput>) => checkVerdict({ ...base, ...o }, CHECK_DEFAULTS);

  test("all well: OK with perfdata that follows the plugin guidelines", () => {
    const v = with_({});
    expect(v).toMatchObject({ code: CHECK.ok, state: "OK", summary: "20 hosts, 0 down, no alerts, 2/2 masters up" });
    expect(v.line).toBe(
      "LAVA OK - 20 hosts, 0 down, no alerts, 2/2 masters up | hosts=20;;;0 ok=18;;;0;20 down=0;0;1;0;20 unavail=0;;;0;20 unreach=0;;;0;20 pending=0;;;0;20 alerts_warning=0;0;;0 alerts_critical=0;;0;0 masters_up=2;2:;;0;2",
    );
    const parsed = parsePluginLine(v.line);
    expect(parsed.text).toBe("LAVA OK - 20 hosts, 0 down, no alerts, 2/2 masters up");
    expect(parsed.perf!.masters_up).toEqual({ value: 2, warn: "2:", crit: "", min: "0", max: "2" });
    // --json keeps the earlier figures by label (scripts read them) and adds the items.
    expect(v.perf).toMatchObject({ hosts: 20, ok: 18, unavail: 0, unreach: 0, alerts_warning: 0, alerts_critical: 0, masters_up: "2/2", down: 0, pending: 0 });
    expect(v.perfdata!.find((p) => p.label === "down")).toEqual({ label: "down", value: 0, uom: "", warn: "0", crit: "1", min: 0, max: 20 });
    expect(with_({ hosts: { total: 0 } }).code).toBe(CHECK.ok);
  });

  test("every line it can print parses, whatever the state", () => {
    const cases: Partial<CheckInput>[] = [
      {},
      { hosts: { total: 0 } },
      { hosts: { ...base.hosts!, unavail: 7 }, downHosts: ["a", "b", "c", "d", "e", "f", "g"] },
      { alerts: [{ host: "n|1", id: "x;y", severity: "critical" }] },
      { masters: [{ address: "m1:6880", up: true }, { address: "m2:6880", up: false }] },
      { hosts: { ...base.hosts!, unreach: 2 }, master: { upForMs: 1000, reportIntervalMs: 4000 } },
    ];
    for (const c of cases) {
      const v = with_(c);
      const parsed = parsePluginLine(v.line);
      expect(parsed.perf).not.toBeNull();
      expect(Object.keys(parsed.perf!)).toEqual(v.perfdata!.map((p) => p.label));
    }
  });

  test("hosts down: WARNING from --warn-unavail, CRITICAL from --crit-unavail-pct; the summary names them", () => {
    const one = with_({ hosts: { ...base.hosts!, ok: 17, unreach: 1 }, downHosts: ["n7"] });
    expect(one.code).toBe(CHECK.warning);
    expect(one.line).toStartWith("LAVA WARNING - 1 of 20 hosts down (unavail 0, unreach 1): n7 |");
    const many = with_({ hosts: { ...base.hosts!, ok: 13, unavail: 7 }, downHosts: ["a", "b", "c", "d", "e", "f", "g"] });
    expect(many.code).toBe(CHECK.critical);
    expect(many.summary).toBe("7 of 20 hosts down (unavail 7, unreach 0): a, b, c, d, e and 2 more");
    expect(with_({ hosts: { ...base.hosts!, ok: 16, unavail: 2 } }).code).toBe(CHECK.critical); // 10 %
    expect(checkVerdict({ ...base, hosts: { ...base.hosts!, unavail: 1 } }, { warnUnavail: 2, critUnavailPct: 10 }).code).toBe(CHECK.ok);
    expect(checkVerdict({ ...base, hosts: { ...base.hosts!, unavail: 5 } }, { warnUnavail: 0, critUnavailPct: 0 }).code).toBe(CHECK.ok);
    // The thresholds in the perfdata say the same as the verdict: down above 0 warns, above 1 (2 of 20 = 10 %) is critical.
    expect(parsePluginLine(many.line).perf!.down).toEqual({ value: 7, warn: "0", crit: "1", min: "0", max: "20" });
    expect(nameSome(["a", "b"])).toBe("a, b");
  });

  test("grace: after a master start or leader change, hosts not seen yet are pending, not down; configurable", () => {
    const restarted = { hosts: { ...base.hosts!, ok: 10, unavail: 10 }, downHosts: ["a", "b"], master: { upForMs: 5000, reportIntervalMs: 4000 } };
    const v = with_(restarted);
    expect(v.code).toBe(CHECK.ok);
    expect(v.summary).toBe("20 hosts, 0 down, 10 pending (master up or leading for 5 s of a 12 s grace: a, b), no alerts, 2/2 masters up");
    expect(v.perf).toMatchObject({ down: 0, pending: 10, unavail: 0 });
    // After the grace (three report intervals by default), or with --grace 0, they are down.
    expect(with_({ ...restarted, master: { upForMs: 12_000, reportIntervalMs: 4000 } }).code).toBe(CHECK.critical);
    expect(checkVerdict({ ...base, ...restarted }, { ...CHECK_DEFAULTS, graceSec: 0 }).code).toBe(CHECK.critical);
    expect(checkVerdict({ ...base, ...restarted, master: { upForMs: 25_000, reportIntervalMs: 4000 } }, { ...CHECK_DEFAULTS, graceSec: 30 }).code).toBe(CHECK.ok);
    // Alerts still count during the grace.
    expect(with_({ ...restarted, alerts: [{ host: "n2", id: "cpu", severity: "critical" }] }).code).toBe(CHECK.critical);
  });

  test("alerts: warning → WARNING, critical → CRITICAL, named in the summary", () => {
    const w = with_({ alerts: [{ host: "n7", id: "disk-full", severity: "warning" }, { host: "n1", id: "x", severity: "info" }] });
    expect(w.code).toBe(CHECK.warning);
    expect(w.line).toContain("1 warning alert (n7 disk-full)");
    const c = with_({ alerts: [{ host: "n7", id: "disk-full", severity: "warning" }, { host: "n2", id: "cpu", severity: "critical" }] });
    expect(c.code).toBe(CHECK.critical);
    expect(c.line).toStartWith("LAVA CRITICAL - 1 critical alert (n2 cpu); 1 warning alert (n7 disk-full) |");
    expect(c.line).toContain(" alerts_warning=1;0;;0 alerts_critical=1;;0;0 ");
  });

  test("masters: one silent is WARNING, none answering is UNKNOWN without perfdata, an unreadable state is UNKNOWN", () => {
    const one = with_({ masters: [{ address: "m1:6880", up: true }, { address: "m2:6880", up: false }] });
    expect(one.code).toBe(CHECK.warning);
    expect(one.line).toContain("master m2:6880 not answering");
    expect(one.line).toEndWith(" masters_up=1;2:;;0;2");
    const none = with_({ masters: [{ address: "m1:6880", up: false }], hosts: null, alerts: null });
    expect(none.code).toBe(CHECK.unknown);
    // No made-up zeros: UNKNOWN has no perfdata at all.
    expect(none.line).toBe("LAVA UNKNOWN - no master answers /healthz (tried m1:6880)");
    expect(none.perf).toBeNull();
    expect(none.perfdata).toBeNull();
    const bad = with_({ hosts: null, alerts: null, error: "token refused | check it" });
    expect(bad.code).toBe(CHECK.unknown);
    expect(bad.line).not.toContain("|"); // a '|' in a message would start the perfdata
  });

  test("threshold flags", () => {
    expect(thresholds(undefined, undefined)).toEqual(CHECK_DEFAULTS);
    expect(thresholds("3", "25.5", "30")).toEqual({ warnUnavail: 3, critUnavailPct: 25.5, graceSec: 30 });
    expect(() => thresholds("-1", undefined)).toThrow("--warn-unavail");
    expect(() => thresholds(undefined, "101")).toThrow("--crit-unavail-pct");
    expect(() => thresholds(undefined, undefined, "soon")).toThrow("--grace");
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
