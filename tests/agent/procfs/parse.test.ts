import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseLoadavg, parseMeminfo, parseStat, type ProcResult } from "../../../src/agent/procfs/index.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

const KB = 1024;

function value<T>(r: ProcResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got error: ${r.error}`);
  return r.value;
}

function error<T>(r: ProcResult<T>): string {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

describe("parseLoadavg", () => {
  test("reads the three loads and running/total, ignores the last pid", () => {
    expect(value(parseLoadavg(fixture("loadavg")))).toEqual({ load1: 0.52, load5: 0.58, load15: 0.59, running: 2, total: 1234 });
  });

  test("tolerates a missing last-pid field and extra spacing", () => {
    expect(value(parseLoadavg("  12.00   8.50 4.25\t17/4096\n"))).toEqual({ load1: 12, load5: 8.5, load15: 4.25, running: 17, total: 4096 });
  });

  test.each([
    ["garbage file", fixture("garbage"), "loadavg: load1"],
    ["empty file", fixture("empty"), "loadavg: expected"],
    ["too few fields", "0.1 0.2 0.3", "loadavg: expected"],
    ["negative load", "-1.0 0.2 0.3 1/2 3", "loadavg: load1"],
    ["non-numeric load", "0.1 NaN 0.3 1/2 3", "loadavg: load5"],
    ["hex load", "0.1 0.2 0x10 1/2 3", "loadavg: load15"],
    ["no slash", "0.1 0.2 0.3 12 3", "loadavg: 4th field"],
    ["empty total", "0.1 0.2 0.3 1/ 3", "loadavg: 4th field"],
  ])("%s is an error, not a throw", (_name, text, prefix) => {
    expect(error(parseLoadavg(text))).toStartWith(prefix);
  });
});

describe("parseMeminfo", () => {
  test("modern kernel: kB become bytes", () => {
    expect(value(parseMeminfo(fixture("meminfo-modern")))).toEqual({
      memTotal: 16303428 * KB,
      memFree: 1234568 * KB,
      memAvailable: 11567892 * KB,
      buffers: 456788 * KB,
      cached: 9876544 * KB,
      swapTotal: 2097148 * KB,
      swapFree: 1998844 * KB,
    });
  });

  test("old kernel without MemAvailable: estimated as MemFree + Buffers + Cached", () => {
    const m = value(parseMeminfo(fixture("meminfo-old")));
    expect(m.memAvailable).toBe((512340 + 203456 + 5123400) * KB);
    expect(m).toMatchObject({ memTotal: 8062260 * KB, memFree: 512340 * KB, swapTotal: 4194296 * KB, swapFree: 4100000 * KB });
  });

  test("the MemAvailable estimate never exceeds MemTotal", () => {
    const m = value(parseMeminfo("MemTotal: 1000 kB\nMemFree: 600 kB\nBuffers: 300 kB\nCached: 300 kB\n"));
    expect(m.memAvailable).toBe(1000 * KB);
  });

  test("no swap (SwapTotal: 0 kB) reads as 0", () => {
    const m = value(parseMeminfo(fixture("meminfo-noswap")));
    expect(m).toMatchObject({ memTotal: 4025852 * KB, memAvailable: 2876540 * KB, swapTotal: 0, swapFree: 0 });
  });

  test("unknown keys, odd spacing, unitless lines and missing swap lines are tolerated", () => {
    expect(value(parseMeminfo(fixture("meminfo-extra-keys")))).toEqual({
      memTotal: 32768000 * KB,
      memFree: 1000000 * KB,
      memAvailable: 20000000 * KB,
      buffers: 500000 * KB,
      cached: 15000000 * KB,
      swapTotal: 0,
      swapFree: 0,
    });
  });

  test("CRLF line endings are tolerated", () => {
    expect(value(parseMeminfo("MemTotal: 2048 kB\r\nMemFree: 1024 kB\r\n")).memTotal).toBe(2048 * KB);
  });

  test.each([
    ["garbage file", fixture("garbage"), "meminfo: MemTotal missing"],
    ["empty file", fixture("empty"), "meminfo: MemTotal missing"],
    ["MemFree missing", "MemTotal: 1000 kB\n", "meminfo: MemFree missing"],
    ["non-numeric MemTotal", "MemTotal: lots kB\nMemFree: 1 kB\n", "meminfo: MemTotal value"],
    ["negative MemFree", "MemTotal: 1000 kB\nMemFree: -5 kB\n", "meminfo: MemFree value"],
    ["wrong unit", "MemTotal: 1000 MB\nMemFree: 5 kB\n", "meminfo: MemTotal has unit"],
  ])("%s is an error, not a throw", (_name, text, prefix) => {
    expect(error(parseMeminfo(text))).toStartWith(prefix);
  });
});

describe("parseStat", () => {
  test("2-CPU box (8 columns): aggregate line, cpu count, procs lines", () => {
    expect(value(parseStat(fixture("stat-2cpu")))).toEqual({
      total: { user: 1212456, nice: 3456, system: 345678, idle: 98765432, iowait: 123456, irq: 2345, softirq: 12345, steal: 678 },
      cpuCount: 2,
      procsRunning: 3,
      procsBlocked: 1,
    });
  });

  test("64-CPU box: counts every cpuN line", () => {
    const s = value(parseStat(fixture("stat-64cpu")));
    expect(s.cpuCount).toBe(64);
    expect(s.total).toEqual({ user: 207567414, nice: 635824, system: 54536056, idle: 5822937776, iowait: 799160, irq: 0, softirq: 420232, steal: 0 });
    expect(s.procsRunning).toBe(17);
    expect(s.procsBlocked).toBe(2);
  });

  test("old kernel with 4 cpu columns: the missing ones are 0, no procs lines", () => {
    const s = value(parseStat(fixture("stat-old-4col")));
    expect(s).toEqual({
      total: { user: 100000, nice: 2000, system: 30000, idle: 800000, iowait: 0, irq: 0, softirq: 0, steal: 0 },
      cpuCount: 2,
    });
  });

  test("new kernel with 10 columns: guest and guest_nice are ignored (already in user and nice)", () => {
    expect(value(parseStat(fixture("stat-new-10col")))).toEqual({
      total: { user: 4705356, nice: 12540, system: 1325087, idle: 170396785, iowait: 77123, irq: 0, softirq: 45678, steal: 1234 },
      cpuCount: 4,
      procsRunning: 5,
      procsBlocked: 0,
    });
  });

  test("an aggregate line with no cpuN lines gives cpuCount 0", () => {
    expect(value(parseStat("cpu 1 2 3 4\n")).cpuCount).toBe(0);
  });

  test.each([
    ["garbage file", fixture("garbage"), "stat: aggregate cpu line missing"],
    ["empty file", fixture("empty"), "stat: aggregate cpu line missing"],
    ["only per-CPU lines", "cpu0 1 2 3 4\ncpu1 1 2 3 4\n", "stat: aggregate cpu line missing"],
    ["too few columns", "cpu  1 2 3\ncpu0 1 2 3\n", "stat: cpu line has 3 columns"],
    ["non-numeric column", "cpu  1 2 x 4\n", "stat: cpu system"],
    ["negative column", "cpu  1 2 3 -4\n", "stat: cpu idle"],
  ])("%s is an error, not a throw", (_name, text, prefix) => {
    expect(error(parseStat(text))).toStartWith(prefix);
  });

  test("error messages quote bad input on one bounded line", () => {
    const e = error(parseLoadavg(`x${"y".repeat(500)}\n\n 1 2 3`));
    expect(e).not.toContain("\n");
    expect(e.length).toBeLessThan(200);
  });
});
