/**
 * The pure sizing of src/master/admission.ts: how long a fleet is told to
 * spread its move to a new leader over (followSpreadMs), and how a ping
 * round is sliced (pingSlices).
 */
import { describe, expect, test } from "bun:test";
import { FOLLOW_LOAD, followSpreadMs, PING_SLICE_MS, pingSlices } from "../../src/master/admission.ts";

describe("followSpreadMs: the fleet arrives at FOLLOW_LOAD of the resume admission rate", () => {
  const rows: { agents: number; perSec: number; ms: number }[] = [
    { agents: 10_000, perSec: 2000, ms: 6250 }, // the defaults' bench fleet: 1,600 a second
    { agents: 1, perSec: 2000, ms: 1 }, // rounded up: never 0 for a fleet of one
    { agents: 0, perSec: 2000, ms: 0 },
    { agents: -5, perSec: 2000, ms: 0 }, // nonsense in, no negative window out
    { agents: 100_000, perSec: 1000, ms: 125_000 }, // agents cap it at their reconnectMin themselves
  ];
  for (const { agents, perSec, ms } of rows) {
    test(`${agents} agents, wsResumePerSec ${perSec}: ${ms} ms`, () => {
      expect(followSpreadMs(agents, perSec)).toBe(ms);
    });
  }

  test("arrivals spread evenly over the window stay below the admission rate", () => {
    for (const agents of [1, 37, 999, 10_000, 123_457]) {
      for (const perSec of [1, 500, 2000, 7777]) {
        const ms = followSpreadMs(agents, perSec);
        expect(agents / (ms / 1000)).toBeLessThanOrEqual(perSec * FOLLOW_LOAD + 1e-9);
      }
    }
  });
});

describe("pingSlices: a ping round in slices of about PING_SLICE_MS", () => {
  const rows: { intervalMs: number; slices: number; tickMs: number }[] = [
    { intervalMs: 30_000, slices: 300, tickMs: 100 }, // the default pingInterval
    { intervalMs: 1000, slices: 10, tickMs: 100 },
    { intervalMs: 50, slices: 1, tickMs: 50 }, // shorter than a slice: the whole round at once
    { intervalMs: 250, slices: 3, tickMs: 250 / 3 }, // slices times ticks is still the interval
  ];
  for (const { intervalMs, slices, tickMs } of rows) {
    test(`pingInterval ${intervalMs} ms: ${slices} slices of ${tickMs.toFixed(1)} ms`, () => {
      const p = pingSlices(intervalMs);
      expect(p.slices).toBe(slices);
      expect(p.tickMs).toBeCloseTo(tickMs, 9);
      expect(p.slices * p.tickMs).toBeCloseTo(intervalMs, 6);
    });
  }

  test("a slice is never much longer or shorter than PING_SLICE_MS once the interval holds one", () => {
    for (let ms = PING_SLICE_MS; ms <= 3_600_000; ms = Math.ceil(ms * 1.37)) {
      const { tickMs } = pingSlices(ms);
      expect(tickMs).toBeGreaterThanOrEqual(PING_SLICE_MS * 0.66);
      expect(tickMs).toBeLessThanOrEqual(PING_SLICE_MS * 1.5);
    }
  });
});
