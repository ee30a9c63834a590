/**
 * The deterministic simulation, seed by seed (simulation.ts): every
 * invariant after every step, liveness after healing, a linearizable
 * history. LAVA_SIM_SEEDS sets the number of runs (default 1200, half on
 * 3 nodes, half on 5); a failure prints its one-line replay.
 */
import { describe, expect, test } from "bun:test";
import { replayTests, seedTests } from "./seed-tests.ts";
import { runSimulation } from "./simulation.ts";

seedTests({
  total: Math.max(2, Number(process.env.LAVA_SIM_SEEDS ?? 1200)),
  sizes: [3, 5],
  title: (nodes) => `${nodes}-node clusters`,
  run: (seed, nodes) => runSimulation({ seed, nodes }),
  // Leaders were elected and entries committed.
  worked: (r, nodes) => r.elections >= 1 && r.committed > nodes,
  msPerRun: (nodes) => (nodes === 3 ? 400 : 600),
});

describe("the simulator", () => {
  replayTests(runSimulation, { replay: 5, trace: 3 });

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
