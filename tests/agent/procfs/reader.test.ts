import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { hardwareInfo, ProcSampler, readProcSample, type ProcResult } from "../../../src/agent/procfs/index.ts";

const FIXTURES = join(import.meta.dir, "fixtures");

const KB = 1024;

function value<T>(r: ProcResult<T>): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function error<T>(r: ProcResult<T>): string {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

let root: string;

/** A fake /proc: loadavg, meminfo-modern as meminfo, stat-2cpu as stat. */
function writeFakeProc(dir: string): void {
  copyFileSync(join(FIXTURES, "loadavg"), join(dir, "loadavg"));
  copyFileSync(join(FIXTURES, "meminfo-modern"), join(dir, "meminfo"));
  copyFileSync(join(FIXTURES, "stat-2cpu"), join(dir, "stat"));
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "lava-procfs-"));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("readProcSample", () => {
  test("reads and parses the three files under root", () => {
    const dir = mkdtempSync(join(root, "ok-"));
    writeFakeProc(dir);
    const s = value(readProcSample(dir));
    expect(s.loadavg).toEqual({ load1: 0.52, load5: 0.58, load15: 0.59, running: 2, total: 1234 });
    expect(s.meminfo.memTotal).toBe(16303428 * KB);
    expect(s.stat.cpuCount).toBe(2);
  });

  test("a missing root is an error naming the first file, not a throw", () => {
    const missing = join(root, "no-such-dir");
    const e = error(readProcSample(missing));
    expect(e).toContain(join(missing, "loadavg"));
    expect(e).toContain("ENOENT");
  });

  test("one missing file is an error naming that file", () => {
    const dir = mkdtempSync(join(root, "partial-"));
    writeFakeProc(dir);
    unlinkSync(join(dir, "meminfo"));
    expect(error(readProcSample(dir))).toBe(`cannot read ${join(dir, "meminfo")}: ENOENT`);
  });

  test("a file that does not parse is an error naming its path and the problem", () => {
    const dir = mkdtempSync(join(root, "bad-"));
    writeFakeProc(dir);
    copyFileSync(join(FIXTURES, "garbage"), join(dir, "stat"));
    expect(error(readProcSample(dir))).toBe(`${join(dir, "stat")}: aggregate cpu line missing`);
  });
});

describe("ProcSampler", () => {
  test("first call: cpu since boot; next call: cpu over the interval", () => {
    const dir = mkdtempSync(join(root, "sampler-"));
    writeFakeProc(dir);
    writeFileSync(join(dir, "stat"), "cpu  100 0 100 800\ncpu0 50 0 50 400\ncpu1 50 0 50 400\n");
    const sampler = new ProcSampler(dir);
    const first = value(sampler.sample({ running: 1, pending: 2 }, 0));
    expect(first).toMatchObject({ cpuUser: 10, cpuSys: 10, cpuIdle: 80, ncpus: 2, jobsRunning: 1, jobsPending: 2, procsTotal: 1234 });

    writeFileSync(join(dir, "stat"), "cpu  190 0 110 900\ncpu0 95 0 55 450\ncpu1 95 0 55 450\n");
    const second = value(sampler.sample({ running: 0, pending: 0 }, 1));
    expect(second.cpuUser).toBeCloseTo(45, 10);
    expect(second.cpuSys).toBeCloseTo(5, 10);
    expect(second.cpuIdle).toBeCloseTo(50, 10);
    expect(second.flags).toBe(1);
  });

  test("a failed read returns the error and keeps the previous sample", () => {
    const dir = mkdtempSync(join(root, "sampler-fail-"));
    writeFakeProc(dir);
    writeFileSync(join(dir, "stat"), "cpu  100 0 100 800\ncpu0 100 0 100 800\n");
    const sampler = new ProcSampler(dir);
    value(sampler.sample({ running: 0, pending: 0 }, 0));

    writeFileSync(join(dir, "stat"), "not a stat file\n");
    expect(error(sampler.sample({ running: 0, pending: 0 }, 0))).toContain(join(dir, "stat"));

    writeFileSync(join(dir, "stat"), "cpu  200 0 100 900\ncpu0 200 0 100 900\n");
    const r = value(sampler.sample({ running: 0, pending: 0 }, 0));
    expect(r).toMatchObject({ cpuUser: 50, cpuSys: 0, cpuIdle: 50 });
  });
});

describe("hardwareInfo", () => {
  test("from /proc under root", () => {
    const dir = mkdtempSync(join(root, "hw-"));
    writeFakeProc(dir);
    expect(hardwareInfo(dir)).toEqual({ ncpus: 2, memBytes: 16303428 * KB });
  });

  test("falls back to the runtime when root cannot be read", () => {
    const hw = hardwareInfo(join(root, "no-such-dir"));
    expect(Number.isInteger(hw.ncpus)).toBe(true);
    expect(hw.ncpus).toBeGreaterThanOrEqual(1);
    expect(hw.memBytes).toBe(totalmem());
  });
});

describe.skipIf(!existsSync("/proc/loadavg"))("live /proc", () => {
  test("values are sane and cpu percents over an interval sum to 100", () => {
    const sampler = new ProcSampler();
    const first = value(sampler.sample({ running: 0, pending: 0 }, 0));
    const before = value(readProcSample()).stat.total;

    // Wait (busy, with a deadline) until at least one jiffy has passed, so
    // the second report covers a real interval.
    const deadlineMs = Date.now() + 5000;
    const jiffies = (t: typeof before) => Object.values(t).reduce((a, b) => a + b, 0);
    while (Date.now() < deadlineMs && jiffies(value(readProcSample()).stat.total) <= jiffies(before)) {
      /* spin */
    }
    const second = value(sampler.sample({ running: 0, pending: 0 }, 0));

    for (const r of [first, second]) {
      expect(r.ncpus).toBeGreaterThanOrEqual(1);
      expect(r.load1).toBeGreaterThanOrEqual(0);
      expect(r.load5).toBeGreaterThanOrEqual(0);
      expect(r.load15).toBeGreaterThanOrEqual(0);
      expect(r.memFree).toBeGreaterThan(0);
      expect(r.memUsed).toBeGreaterThanOrEqual(0);
      expect(r.swapUsed).toBeGreaterThanOrEqual(0);
      expect(r.procsTotal).toBeGreaterThanOrEqual(1);
      for (const pct of [r.cpuUser, r.cpuSys, r.cpuIdle]) {
        expect(pct).toBeGreaterThanOrEqual(0);
        expect(pct).toBeLessThanOrEqual(100);
      }
      expect(r.cpuUser + r.cpuSys + r.cpuIdle).toBeCloseTo(100, 6);
    }
    const hw = hardwareInfo();
    expect(second.memUsed + second.memFree).toBeLessThanOrEqual(hw.memBytes + 1);
    expect(hw.ncpus).toBe(second.ncpus);
  });
});
