/**
 * Seeded runs as bun tests: `total` runs spread over cluster sizes, in
 * tests of 50 seeds each, every failure reported with its one-line replay.
 * Shared by the core-level and the driver-level simulations.
 */
import { describe, expect, test } from "bun:test";
import type { SimResult } from "./simulation.ts";

const PER_TEST = 50;

export function seedTests(o: {
  total: number;
  sizes: readonly number[];
  /** The describe() title for a cluster size. */
  title: (nodes: number) => string;
  run: (seed: number, nodes: number) => SimResult;
  /** The run did work (not a vacuous pass). */
  worked: (r: SimResult, nodes: number) => boolean;
  /** Time allowed per run, ms. */
  msPerRun: (nodes: number) => number;
}): void {
  for (const nodes of o.sizes) {
    const seeds = Math.ceil(o.total / o.sizes.length);
    describe(o.title(nodes), () => {
      for (let from = 1; from <= seeds; from += PER_TEST) {
        const to = Math.min(seeds, from + PER_TEST - 1);
        test(
          `seeds ${from}..${to}: safe, live and linearizable`,
          () => {
            const results: SimResult[] = [];
            for (let seed = from; seed <= to; seed++) results.push(o.run(seed, nodes));
            expect(results.filter((r) => !r.ok).map((r) => `seed ${r.seed} on ${r.nodes} failed:\n${r.failure}\nreplay: ${r.replay}`)).toEqual([]);
            expect(results.filter((r) => !o.worked(r, nodes)).map((r) => `seed ${r.seed} on ${r.nodes} did no work`)).toEqual([]);
          },
          (to - from + 1) * o.msPerRun(nodes),
        );
      }
    });
  }
}

/** Determinism: a seed replays exactly (digest and events), another differs, and a trace is the same line for line. */
export function replayTests(run: (o: { seed: number; nodes: number; trace?: (line: string) => void }) => SimResult, nodes: { replay: number; trace: number }): void {
  test("a seed replays exactly: two runs of one seed are identical, another seed differs", () => {
    const a = run({ seed: 4242, nodes: nodes.replay });
    const b = run({ seed: 4242, nodes: nodes.replay });
    const c = run({ seed: 4243, nodes: nodes.replay });
    expect(b.digest).toBe(a.digest);
    expect(b.events).toBe(a.events);
    expect(c.digest).not.toBe(a.digest);
  }, 10_000);

  test("a trace of the run is available for a replay, and the same seed traces the same lines", () => {
    const lines: string[] = [];
    const again: string[] = [];
    run({ seed: 7, nodes: nodes.trace, trace: (l) => lines.push(l) });
    run({ seed: 7, nodes: nodes.trace, trace: (l) => again.push(l) });
    expect(lines.length).toBeGreaterThan(100);
    expect(lines[0]).toContain("params");
    expect(again).toEqual(lines);
  }, 10_000);
}
