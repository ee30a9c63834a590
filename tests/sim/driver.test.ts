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
import { replayTests, seedTests } from "./seed-tests.ts";

seedTests({
  total: Math.max(3, Number(process.env.LAVA_SIM_DRIVER_SEEDS ?? 1200)),
  sizes: [1, 3, 5],
  title: (nodes) => `${nodes} master(s), driver-level`,
  run: (seed, nodes) => runDriverSimulation({ seed, nodes }),
  // Leaders were elected and clients' writes applied.
  worked: (r) => r.elections >= 1 && r.workload.writesOk > 0,
  msPerRun: (nodes) => (nodes === 1 ? 200 : nodes === 3 ? 400 : 600),
});

describe("the driver-level simulator", () => {
  replayTests(runDriverSimulation, { replay: 3, trace: 3 });

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
