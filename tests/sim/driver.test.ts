/**
 * The driver-level simulation (driver/simulation.ts), seed by seed: the
 * RaftDriver that ships, on a simulated clock, network and SQLite-like
 * disk, under crashes at points of its writes, power losses, pauses, slow
 * and failing disks and partitions. LAVA_SIM_DRIVER_SEEDS sets the number
 * of runs (default 1200: a third each on 1, 3 and 5 masters); a failure
 * prints its one-line replay.
 */
import { describe, expect, test } from "bun:test";
import { runDriverSimulation } from "./driver/simulation.ts";
import type { SimResult } from "./simulation.ts";

const TOTAL = Math.max(3, Number(process.env.LAVA_SIM_DRIVER_SEEDS ?? 1200));
const PER_TEST = 50;

function failures(results: SimResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => `seed ${r.seed} on ${r.nodes} masters failed:\n${r.failure}\nreplay: ${r.replay}`);
}

for (const nodes of [1, 3, 5]) {
  const seeds = Math.ceil(TOTAL / 3);
  describe(`${nodes} master(s), driver-level`, () => {
    for (let from = 1; from <= seeds; from += PER_TEST) {
      const to = Math.min(seeds, from + PER_TEST - 1);
      test(
        `seeds ${from}..${to}: safe, live and linearizable`,
        () => {
          const results: SimResult[] = [];
          for (let seed = from; seed <= to; seed++) results.push(runDriverSimulation({ seed, nodes }));
          expect(failures(results)).toEqual([]);
          // The runs did work: leaders were elected and clients' writes applied.
          expect(results.every((r) => r.elections >= 1 && r.workload.writesOk > 0)).toBe(true);
        },
        (to - from + 1) * (nodes === 1 ? 200 : nodes === 3 ? 400 : 600),
      );
    }
  });
}

describe("the driver-level simulator", () => {
  test("a seed replays exactly: two runs of one seed are identical, another seed differs", () => {
    const a = runDriverSimulation({ seed: 4242, nodes: 3 });
    const b = runDriverSimulation({ seed: 4242, nodes: 3 });
    const c = runDriverSimulation({ seed: 4243, nodes: 3 });
    expect(b.digest).toBe(a.digest);
    expect(b.events).toBe(a.events);
    expect(c.digest).not.toBe(a.digest);
  }, 10_000);

  test("a trace of the run is available for a replay, and the same seed traces the same lines", () => {
    const lines: string[] = [];
    const again: string[] = [];
    runDriverSimulation({ seed: 7, nodes: 3, trace: (l) => lines.push(l) });
    runDriverSimulation({ seed: 7, nodes: 3, trace: (l) => again.push(l) });
    expect(lines.length).toBeGreaterThan(100);
    expect(lines[0]).toContain("params");
    expect(again).toEqual(lines);
  }, 10_000);

  test("runs exercise what they should: every crash point, power loss, pauses, slow and failing writes, snapshots, retried writes", () => {
    const total: Record<string, number> = {};
    for (let seed = 1; seed <= 60; seed++) {
      for (const nodes of [1, 3]) for (const [k, n] of Object.entries(runDriverSimulation({ seed, nodes }).coverage)) total[k] = (total[k] ?? 0) + n;
    }
    for (const what of [
      "crash between sending its appends and writing them (leader)",
      "crash before the write's transaction",
      "crash inside the write's transaction (rolled back)",
      "crash after the write's commit, before the rest of the Ready",
      "crash kill -9",
      "power loss lost unsynced commits",
      "pause",
      "slow write",
      "write failed (disk full)",
      "snapshot installed",
      "leader isolated",
      "transfer",
      "timeout_now",
      "read_index",
      "append_resp (reject)",
      "retry answered with the first outcome",
      "client attempt timed out",
    ]) {
      expect([what, (total[what] ?? 0) > 0]).toEqual([what, true]);
    }
  }, 30_000);
});
