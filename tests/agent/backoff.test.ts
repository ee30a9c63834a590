import { describe, expect, test } from "bun:test";
import { FIRST_DELAY_JITTER, reconnectDelayMs, restartDelayMs } from "../../src/agent/backoff.ts";
import { seededRng } from "../helpers/rng.ts";

const policy = { minMs: 10_000, maxMs: 300_000 };
const fixed = (x: number) => () => x;

describe("reconnectDelayMs", () => {
  test("the first delay after a drop is reconnectMin ± 20 %", () => {
    expect(reconnectDelayMs(0, policy, fixed(0))).toBe(8_000);
    expect(reconnectDelayMs(0, policy, fixed(0.5))).toBe(10_000);
    expect(reconnectDelayMs(0, policy, fixed(0.999999))).toBe(12_000);
    const rng = seededRng(1);
    for (let i = 0; i < 10_000; i++) {
      const d = reconnectDelayMs(0, policy, rng);
      expect(d).toBeGreaterThanOrEqual(policy.minMs * (1 - FIRST_DELAY_JITTER));
      expect(d).toBeLessThanOrEqual(policy.minMs * (1 + FIRST_DELAY_JITTER));
    }
  });

  test("later rounds use full jitter over a window that doubles per round", () => {
    for (const round of [1, 2, 3, 4]) {
      const ceiling = policy.minMs * 2 ** round;
      expect(reconnectDelayMs(round, policy, fixed(0))).toBe(0);
      expect(reconnectDelayMs(round, policy, fixed(0.5))).toBe(ceiling / 2);
      expect(reconnectDelayMs(round, policy, fixed(0.999999))).toBeCloseTo(ceiling, -1);
    }
  });

  test("the mean of full jitter is half the window, and samples fill the window", () => {
    const rng = seededRng(7);
    const n = 20_000;
    let sum = 0;
    let max = 0;
    let min = Infinity;
    for (let i = 0; i < n; i++) {
      const d = reconnectDelayMs(2, policy, rng);
      sum += d;
      max = Math.max(max, d);
      min = Math.min(min, d);
    }
    expect(sum / n).toBeGreaterThan(0.48 * 40_000);
    expect(sum / n).toBeLessThan(0.52 * 40_000);
    expect(min).toBeLessThan(400);
    expect(max).toBeGreaterThan(39_600);
  });

  test("every delay is capped at reconnectMax, however many rounds failed", () => {
    const rng = seededRng(3);
    for (const round of [5, 6, 10, 50, 1000, 5000]) {
      for (let i = 0; i < 200; i++) expect(reconnectDelayMs(round, policy, rng)).toBeLessThanOrEqual(policy.maxMs);
    }
    expect(reconnectDelayMs(10_000, policy, fixed(0.999999))).toBeCloseTo(policy.maxMs, -1);
  });

  test("a reconnectMin above reconnectMax is capped too", () => {
    expect(reconnectDelayMs(0, { minMs: 500_000, maxMs: 300_000 }, fixed(0.999999))).toBe(300_000);
    expect(reconnectDelayMs(3, { minMs: 500_000, maxMs: 300_000 }, fixed(0.5))).toBe(150_000);
  });

  test("a broken rng (NaN, out of range) still yields a delay in bounds", () => {
    for (const x of [NaN, -1, 1, 2, Infinity]) {
      for (const round of [0, 1, 8]) {
        const d = reconnectDelayMs(round, policy, fixed(x));
        expect(Number.isFinite(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(policy.maxMs);
      }
    }
  });
});

describe("restartDelayMs (after a master's clean shutdown)", () => {
  test("uniform in 0.1–0.6 of minMs: 1–6 s with the defaults, spread, never above maxMs", () => {
    const policy = { minMs: 10_000, maxMs: 300_000 };
    expect(restartDelayMs(policy, () => 0)).toBe(1000);
    expect(restartDelayMs(policy, () => 0.999999)).toBe(6000);
    const rng = seededRng(7);
    const xs = Array.from({ length: 1000 }, () => restartDelayMs(policy, rng));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...xs)).toBeLessThanOrEqual(6000);
    expect(new Set(xs.map((x) => Math.floor(x / 1000))).size).toBe(5);
    expect(restartDelayMs({ minMs: 10_000, maxMs: 2000 }, () => 0.999)).toBeLessThanOrEqual(2000);
  });
});
