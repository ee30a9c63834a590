/**
 * The deterministic simulation, seed by seed (simulation.ts): every
 * invariant after every step, liveness after healing, a linearizable
 * history. LAVA_SIM_SEEDS sets the number of runs (default 1200, half on
 * 3 nodes, half on 5); a failure prints its one-line replay.
 */
import { describe, expect, test } from "bun:test";
import { runSimulation, type SimResult } from "./simulation.ts";

const TOTAL = Math.max(2, Number(process.env.LAVA_SIM_SEEDS ?? 1200));
const PER_TEST = 50;

function failures(results: SimResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => `seed ${r.seed} on ${r.nodes} nodes failed:\n${r.failure}\nreplay: ${r.replay}`);
}

for (const nodes of [3, 5]) {
  const seeds = Math.ceil(TOTAL / 2);
  describe(`${nodes}-node clusters`, () => {
    for (let from = 1; from <= seeds; from += PER_TEST) {
      const to = Math.min(seeds, from + PER_TEST - 1);
      test(
        `seeds ${from}..${to}: safe, live and linearizable`,
        () => {
          const results: SimResult[] = [];
          for (let seed = from; seed <= to; seed++) results.push(runSimulation({ seed, nodes }));
          expect(failures(results)).toEqual([]);
          // The runs did work: leaders were elected and entries committed.
          expect(results.every((r) => r.elections >= 1 && r.committed > nodes)).toBe(true);
        },
        (to - from + 1) * (nodes === 3 ? 400 : 600),
      );
    }
  });
}

describe("the simulator", () => {
  test("a seed replays exactly: two runs of one seed are identical, another seed differs", () => {
    const a = runSimulation({ seed: 4242, nodes: 5 });
    const b = runSimulation({ seed: 4242, nodes: 5 });
    const c = runSimulation({ seed: 4243, nodes: 5 });
    expect(b.digest).toBe(a.digest);
    expect(b.events).toBe(a.events);
    expect(c.digest).not.toBe(a.digest);
  }, 10_000);

  test("a trace of the run is available for a replay, and the same seed traces the same lines", () => {
    const lines: string[] = [];
    const again: string[] = [];
    runSimulation({ seed: 7, nodes: 3, trace: (l) => lines.push(l) });
    runSimulation({ seed: 7, nodes: 3, trace: (l) => again.push(l) });
    expect(lines.length).toBeGreaterThan(100);
    expect(lines[0]).toContain("params");
    expect(again).toEqual(lines);
  }, 10_000);

  test("every message the core sends passes the wire schema the transport checks", () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = runSimulation({ seed, nodes: seed % 2 === 0 ? 5 : 3, validateMessages: "all" });
      expect([seed, r.failure ?? "ok"]).toEqual([seed, "ok"]);
    }
  }, 20_000);

  test("runs exercise what they should: faults, snapshots, membership, transfers, follower reads", () => {
    const total: Record<string, number> = {};
    for (let seed = 1; seed <= 60; seed++) {
      for (const [k, n] of Object.entries(runSimulation({ seed, nodes: 3 }).coverage)) total[k] = (total[k] ?? 0) + n;
    }
    for (const what of ["snapshot installed", "snapshot refreshed by the transport", "conf remove applied", "conf add applied", "timeout_now", "read state (follower)", "crash before", "crash after", "append_resp (reject)", "prevote", "vote"]) {
      expect([what, (total[what] ?? 0) > 0]).toEqual([what, true]);
    }
  }, 20_000);
});
