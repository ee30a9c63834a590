import { describe, expect, test } from "bun:test";
import { hostnameHash32, nextReportDelayMs, phaseOffsetMs, REPORT_JITTER } from "../../src/agent/schedule.ts";
import { seededRng } from "../helpers/rng.ts";

const INTERVAL_MS = 4000;
const names = (n: number, prefix = "node") => Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, "0")}`);

describe("phaseOffsetMs", () => {
  test("is a stable integer in [0, interval) for a given hostname", () => {
    for (const name of ["h1", "node0001", "gpu-17.cluster.example.org", "x", "ünïcode"]) {
      const o = phaseOffsetMs(name, INTERVAL_MS);
      expect(Number.isInteger(o)).toBe(true);
      expect(o).toBeGreaterThanOrEqual(0);
      expect(o).toBeLessThan(INTERVAL_MS);
      expect(phaseOffsetMs(name, INTERVAL_MS)).toBe(o); // a restart keeps the phase
    }
    expect(hostnameHash32("node0001")).toBe(hostnameHash32("node0001"));
  });

  test("offsets of many hosts spread evenly across the interval", () => {
    const buckets = new Array<number>(10).fill(0);
    for (const name of names(1000)) buckets[Math.floor((phaseOffsetMs(name, INTERVAL_MS) / INTERVAL_MS) * 10)]! += 1;
    // 100 expected per bucket; ±3σ of a binomial(1000, 0.1) is about ±28.
    for (const b of buckets) {
      expect(b).toBeGreaterThan(70);
      expect(b).toBeLessThan(130);
    }
  });

  test("hostnames differing only in their last character do not cluster", () => {
    const offsets = ["node1", "node2", "node3", "node4", "node5", "node6", "node7", "node8", "node9"].map((n) => phaseOffsetMs(n, INTERVAL_MS));
    expect(Math.max(...offsets) - Math.min(...offsets)).toBeGreaterThan(INTERVAL_MS / 2);
    expect(new Set(offsets).size).toBe(offsets.length);
  });

  test("a non-positive interval gives offset 0", () => {
    expect(phaseOffsetMs("h1", 0)).toBe(0);
  });
});

describe("nextReportDelayMs", () => {
  test("jitter is bounded by ±10 % of the interval", () => {
    expect(nextReportDelayMs(INTERVAL_MS, () => 0)).toBe(INTERVAL_MS * (1 - REPORT_JITTER));
    expect(nextReportDelayMs(INTERVAL_MS, () => 0.5)).toBe(INTERVAL_MS);
    expect(nextReportDelayMs(INTERVAL_MS, () => 0.9999999)).toBe(INTERVAL_MS * (1 + REPORT_JITTER));
    const rng = seededRng(11);
    for (let i = 0; i < 10_000; i++) {
      const d = nextReportDelayMs(INTERVAL_MS, rng);
      expect(d).toBeGreaterThanOrEqual(3600);
      expect(d).toBeLessThanOrEqual(4400);
    }
    for (const x of [NaN, -5, 7]) {
      const d = nextReportDelayMs(INTERVAL_MS, () => x);
      expect(d).toBeGreaterThanOrEqual(3600);
      expect(d).toBeLessThanOrEqual(4400);
    }
  });

  test("the mean period is the interval", () => {
    const rng = seededRng(5);
    const n = 20_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += nextReportDelayMs(INTERVAL_MS, rng);
    expect(Math.abs(sum / n - INTERVAL_MS)).toBeLessThan(INTERVAL_MS * 0.005);
  });

  test("the delays are spread over the jitter window, not bunched", () => {
    const rng = seededRng(9);
    const buckets = new Array<number>(8).fill(0);
    for (let i = 0; i < 8000; i++) {
      const d = nextReportDelayMs(INTERVAL_MS, rng);
      buckets[Math.min(7, Math.floor(((d - 3600) / 800) * 8))]! += 1;
    }
    for (const b of buckets) expect(b).toBeGreaterThan(800);
  });
});

describe("arrivals at the master from many agents", () => {
  /** Every agent registers at t = 0 (a master switch), first report at its phase offset, then interval ± jitter. */
  function simulate(agents: string[], periods: number, seed: number): number[] {
    const rng = seededRng(seed);
    const times: number[] = [];
    for (const name of agents) {
      let t = phaseOffsetMs(name, INTERVAL_MS);
      while (t < periods * INTERVAL_MS) {
        times.push(t);
        t += nextReportDelayMs(INTERVAL_MS, rng);
      }
    }
    return times.sort((a, b) => a - b);
  }

  test("form a Poisson-like stream: inter-arrival times have a coefficient of variation near 1", () => {
    const times = simulate(names(500), 30, 1);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
    expect(mean).toBeCloseTo(INTERVAL_MS / 500, 0);
    expect(sd / mean).toBeGreaterThan(0.85);
    expect(sd / mean).toBeLessThan(1.15);
  });

  test("show no burst just after a master switch", () => {
    const times = simulate(names(500), 1, 2);
    // 100 bins of 40 ms over the first interval: about 5 reports expected per bin.
    const bins = new Array<number>(100).fill(0);
    for (const t of times) bins[Math.floor(t / 40)]! += 1;
    expect(times.length).toBeGreaterThanOrEqual(500); // everyone's first report, a few second ones
    expect(Math.max(...bins)).toBeLessThanOrEqual(15);
    expect(bins.filter((b) => b === 0).length).toBeLessThan(5);
  });
});
