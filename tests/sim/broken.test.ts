/**
 * The checks can fail: with the core broken on purpose (RaftConfig
 * testingKnobs), the simulator must catch it within a few seeds.
 */
import { expect, test } from "bun:test";
import { runSimulation, type BrokenKnobs } from "./simulation.ts";

/** The first failing run among seeds 1..max (alternating 3 and 5 nodes). */
function firstFailure(knobs: BrokenKnobs, max: number): { seed: number; failure: string } | undefined {
  for (let seed = 1; seed <= max; seed++) {
    const r = runSimulation({ seed, nodes: seed % 2 === 0 ? 5 : 3, knobs });
    if (!r.ok) return { seed, failure: r.failure! };
  }
  return undefined;
}

test("granting votes without comparing logs is caught (leader completeness or state machine safety)", () => {
  const f = firstFailure({ voteIgnoresLog: true }, 60);
  expect(f).toBeDefined();
  expect(f!.failure).toMatch(/leader completeness|state machine safety|log matching|not linearizable/);
}, 30_000);

test("a follower that skips the previous entry's term check is caught (log matching)", () => {
  const f = firstFailure({ skipPrevTermCheck: true }, 60);
  expect(f).toBeDefined();
  expect(f!.failure).toMatch(/log matching|state machine safety|leader completeness|not linearizable/);
}, 30_000);

test("a failing run replays exactly: same failure, same events, and its replay line says how", () => {
  const knobs = { voteIgnoresLog: true };
  const f = firstFailure(knobs, 60)!;
  const nodes = f.seed % 2 === 0 ? 5 : 3;
  const a = runSimulation({ seed: f.seed, nodes, knobs });
  const b = runSimulation({ seed: f.seed, nodes, knobs });
  expect(a.failure).toBe(f.failure);
  expect(b.failure).toBe(a.failure!);
  expect(b.digest).toBe(a.digest);
  expect(a.replay).toBe(`scripts/sim --seed ${f.seed} --nodes ${nodes} --break voteIgnoresLog`);
}, 30_000);

test("the same runs pass with the core intact", () => {
  expect(firstFailure({}, 12)).toBeUndefined();
}, 30_000);
