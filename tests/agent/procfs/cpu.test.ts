import { describe, expect, test } from "bun:test";
import { cpuPercent, ZERO_CPU_TIMES, type CpuTimes } from "../../../src/agent/procfs/index.ts";

const PREV: CpuTimes = { user: 1000, nice: 100, system: 300, idle: 8000, iowait: 200, irq: 10, softirq: 40, steal: 50 };
// 1000 jiffies later: +300 user, +100 nice, +80 system, +450 idle, +50 iowait, +5 irq, +10 softirq, +5 steal.
const CUR: CpuTimes = { user: 1300, nice: 200, system: 380, idle: 8450, iowait: 250, irq: 15, softirq: 50, steal: 55 };

const sum = (p: { user: number; sys: number; idle: number }) => p.user + p.sys + p.idle;

describe("cpuPercent", () => {
  test("user = user+nice, sys = system+irq+softirq+steal, idle = idle+iowait, over the delta", () => {
    const p = cpuPercent(PREV, CUR);
    expect(p.user).toBeCloseTo(40, 10);
    expect(p.sys).toBeCloseTo(10, 10);
    expect(p.idle).toBeCloseTo(50, 10);
    expect(sum(p)).toBeCloseTo(100, 10);
  });

  test("uneven shares still sum to 100", () => {
    const cur = { ...PREV, user: PREV.user + 1, system: PREV.system + 1, idle: PREV.idle + 1 };
    const p = cpuPercent(PREV, cur);
    expect(p.user).toBeCloseTo(100 / 3, 10);
    expect(sum(p)).toBeCloseTo(100, 10);
  });

  test("same sample twice (no time passed) reads as all idle", () => {
    expect(cpuPercent(CUR, CUR)).toEqual({ user: 0, sys: 0, idle: 100 });
  });

  test("counter reset (total went backwards) reads as all idle", () => {
    expect(cpuPercent(CUR, PREV)).toEqual({ user: 0, sys: 0, idle: 100 });
    expect(cpuPercent(CUR, ZERO_CPU_TIMES)).toEqual({ user: 0, sys: 0, idle: 100 });
  });

  test("one column going backwards (aggregate iowait on CPU hot-unplug) counts as 0, result stays in range", () => {
    const cur = { ...PREV, user: PREV.user + 100, iowait: PREV.iowait - 50 };
    const p = cpuPercent(PREV, cur);
    expect(p).toEqual({ user: 100, sys: 0, idle: 0 });
  });

  test("since boot: from all zero", () => {
    const p = cpuPercent(ZERO_CPU_TIMES, { ...ZERO_CPU_TIMES, user: 25, idle: 75 });
    expect(p).toEqual({ user: 25, sys: 0, idle: 75 });
  });

  test("never NaN, always within [0, 100], even on non-finite input", () => {
    const bad = { ...PREV, user: Number.NaN, idle: Number.POSITIVE_INFINITY };
    for (const p of [cpuPercent(bad, CUR), cpuPercent(PREV, bad), cpuPercent(bad, bad)]) {
      for (const v of [p.user, p.sys, p.idle]) {
        expect(Number.isNaN(v)).toBe(false);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(100);
      }
    }
  });
});
