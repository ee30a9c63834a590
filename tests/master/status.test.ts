import { describe, expect, test } from "bun:test";
import { countStates, hostState, unavailAfterMs, type StatusPolicy } from "../../src/master/hosts/status.ts";
import { HostTable, hostLoss } from "../../src/master/hosts/table.ts";
import type { LoadReport } from "../../src/wire/index.ts";

const policy: StatusPolicy = { reportIntervalMs: 4000, busy: { loadPerCpu: 1.5, cpuPercent: 95, memPercent: 95 } };
const report = (o: Partial<LoadReport> = {}): LoadReport => ({
  load1: 1, load5: 1, load15: 1, memUsed: 4, memFree: 6, swapUsed: 0, swapFree: 0, ncpus: 4, cpuUser: 10, cpuSys: 5, cpuIdle: 85, jobsRunning: 0, jobsPending: 0, procsTotal: 10, flags: 0, ...o,
});

function host(t: HostTable, name: string, opts: { report?: LoadReport | null; lastReportMs?: number; connected?: boolean; drained?: boolean } = {}) {
  const h = t.upsert({ hostId: t.size + 1, hostname: name, hardware: { ncpus: 4, memBytes: 10, gpus: 0 }, version: "v", registeredAtMs: 0, drained: opts.drained ?? false });
  t.attachSession(name, { reportIp: "10.0.0.1", reportPort: 1000 + t.size, nonce: "n", key: new Uint8Array(32) }, opts.connected ?? true);
  h.report = opts.report === undefined ? report() : opts.report;
  h.lastReportMs = opts.lastReportMs ?? 100_000;
  return h;
}

describe("host state (design §3)", () => {
  const now = 100_000;
  test("a fresh report from a connected, undrained host under the thresholds is ok", () => {
    expect(hostState(host(new HostTable(), "a"), now, policy)).toBe("ok");
  });
  test("no report yet, or silent past 3 intervals + jitter, is unavail", () => {
    const t = new HostTable();
    expect(hostState(host(t, "a", { report: null }), now, policy)).toBe("unavail");
    expect(hostState(host(t, "b", { lastReportMs: now - unavailAfterMs(policy) - 1 }), now, policy)).toBe("unavail");
    expect(hostState(host(t, "c", { lastReportMs: now - 3 * 4000 }), now, policy)).toBe("ok");
  });
  test("reports but no control channel is unreach", () => {
    expect(hostState(host(new HostTable(), "a", { connected: false }), now, policy)).toBe("unreach");
  });
  test("busy by load per cpu, by cpu percent, by memory percent", () => {
    const t = new HostTable();
    expect(hostState(host(t, "a", { report: report({ load1: 6.1, ncpus: 4 }) }), now, policy)).toBe("busy");
    expect(hostState(host(t, "b", { report: report({ cpuUser: 90, cpuSys: 6 }) }), now, policy)).toBe("busy");
    expect(hostState(host(t, "c", { report: report({ memUsed: 96, memFree: 4 }) }), now, policy)).toBe("busy");
    expect(hostState(host(t, "d", { report: report({ load1: 5.9, ncpus: 4 }) }), now, policy)).toBe("ok");
  });
  test("precedence: unavail and unreach before drained, drained before busy", () => {
    const t = new HostTable();
    const busy = report({ load1: 100 });
    expect(hostState(host(t, "a", { drained: true, report: busy }), now, policy)).toBe("drained");
    expect(hostState(host(t, "b", { drained: true, connected: false, report: busy }), now, policy)).toBe("unreach");
    expect(hostState(host(t, "c", { drained: true, report: null }), now, policy)).toBe("unavail");
  });
  test("countStates counts every host once", () => {
    const t = new HostTable();
    host(t, "a");
    host(t, "b", { connected: false });
    host(t, "c", { report: null });
    expect(countStates(t.values(), now, policy)).toEqual({ ok: 1, busy: 0, drained: 0, unavail: 1, unreach: 1, total: 3 });
  });
});

describe("host table", () => {
  test("a new session keeps the host id and carries earlier loss into the total", () => {
    const t = new HostTable();
    const h = host(t, "a");
    Object.assign(h.session!, { firstSeq: 1, lastSeq: 10, received: 8 });
    h.receivedTotal = 8;
    t.attachSession("a", { reportIp: "10.0.0.2", reportPort: 5, nonce: "m", key: new Uint8Array(32) });
    expect(t.byHostname("a")!.hostId).toBe(h.hostId);
    expect(hostLoss(h)).toEqual({ lost: 2, received: 8, pct: 20 });
    expect(t.bySource("10.0.0.2", 5)).toBe(h);
    expect(t.bySource("10.0.0.1", 1001)).toBeUndefined();
  });
  test("upsert with a different id for a known name replaces the entry (removed and registered again)", () => {
    const t = new HostTable();
    host(t, "a");
    const again = t.upsert({ hostId: 42, hostname: "a", hardware: { ncpus: 1, memBytes: 1, gpus: 0 }, version: "v2", registeredAtMs: 5, drained: false });
    expect(t.byHostId(1)).toBeUndefined();
    expect(t.byHostId(42)).toBe(again);
    expect(again.session).toBeNull();
  });
});
