import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildReport, parseLoadavg, parseMeminfo, parseStat, type ProcResult, type ProcSample } from "../../../src/agent/procfs/index.ts";
import type { LoadReport } from "../../../src/wire/index.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

const KB = 1024;

function value<T>(r: ProcResult<T>): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function sample(meminfo: string, stat: string, loadavg = fixture("loadavg")): ProcSample {
  return { loadavg: value(parseLoadavg(loadavg)), meminfo: value(parseMeminfo(meminfo)), stat: value(parseStat(stat)) };
}

describe("buildReport", () => {
  test("first report: loads, memory (free = MemAvailable), swap, ncpus, cpu since boot, jobs, procs, flags", () => {
    const s = sample(fixture("meminfo-modern"), "cpu  300 100 50 500 25 5 10 10\ncpu0 300 100 50 500 25 5 10 10\n");
    const r = buildReport(s, null, { running: 3, pending: 7 }, 5);
    expect(r).toEqual({
      load1: 0.52,
      load5: 0.58,
      load15: 0.59,
      memUsed: (16303428 - 11567892) * KB,
      memFree: 11567892 * KB,
      swapUsed: (2097148 - 1998844) * KB,
      swapFree: 1998844 * KB,
      ncpus: 1,
      cpuUser: 40,
      cpuSys: 7.5,
      cpuIdle: 52.5,
      jobsRunning: 3,
      jobsPending: 7,
      procsTotal: 1234,
      flags: 5,
    });
  });

  test("with a previous sample, cpu covers only the interval", () => {
    const prev = sample(fixture("meminfo-noswap"), "cpu  100 0 100 800\ncpu0 50 0 50 400\ncpu1 50 0 50 400\n");
    const cur = sample(fixture("meminfo-noswap"), "cpu  190 0 110 900\ncpu0 95 0 55 450\ncpu1 95 0 55 450\n");
    const r = buildReport(cur, prev, { running: 0, pending: 0 }, 0);
    expect(r.cpuUser).toBeCloseTo(45, 10);
    expect(r.cpuSys).toBeCloseTo(5, 10);
    expect(r.cpuIdle).toBeCloseTo(50, 10);
    expect(r.ncpus).toBe(2);
    expect(r).toMatchObject({ swapUsed: 0, swapFree: 0, memUsed: (4025852 - 2876540) * KB, memFree: 2876540 * KB });
  });

  test("old kernel: memFree is the estimated MemAvailable; 64-CPU box gives ncpus 64", () => {
    const r = buildReport(sample(fixture("meminfo-old"), fixture("stat-64cpu")), null, { running: 0, pending: 0 }, 0);
    expect(r.memFree).toBe((512340 + 203456 + 5123400) * KB);
    expect(r.memUsed + r.memFree).toBe(8062260 * KB);
    expect(r.ncpus).toBe(64);
  });

  test("inconsistent /proc (MemAvailable > MemTotal, SwapFree > SwapTotal) never gives negative used", () => {
    const s = sample("MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 5000 kB\nSwapTotal: 10 kB\nSwapFree: 20 kB\n", "cpu 1 2 3 4\n");
    const r = buildReport(s, null, { running: 0, pending: 0 }, 0);
    expect(r).toMatchObject({ memUsed: 0, memFree: 1000 * KB, swapUsed: 0, swapFree: 10 * KB, ncpus: 1 });
  });

  test("has exactly the fields of the wire's LoadReport", () => {
    const r: LoadReport = buildReport(sample(fixture("meminfo-modern"), fixture("stat-2cpu")), null, { running: 0, pending: 0 }, 0);
    expect(Object.keys(r).sort()).toEqual(
      ["load1", "load5", "load15", "memUsed", "memFree", "swapUsed", "swapFree", "ncpus", "cpuUser", "cpuSys", "cpuIdle", "jobsRunning", "jobsPending", "procsTotal", "flags"].sort(),
    );
  });
});
