/**
 * The driver-level checks can fail: with the driver broken on purpose
 * (DriverConfig.testingKnobs), the simulator catches it. With the Ready
 * contract checked where it is kept, at once; with only Raft's invariants
 * and the linearizability check (the consequences), within the seeds CI
 * runs.
 */
import { expect, test } from "bun:test";
import { runDriverSimulation, type BrokenDriver } from "./driver/simulation.ts";

/** The first failing run among seeds 1..max (cycling 1, 3 and 5 masters). */
function firstFailure(knobs: BrokenDriver, max: number, contractChecks = true): { seed: number; nodes: number; failure: string } | undefined {
  for (let seed = 1; seed <= max; seed++) {
    const nodes = [1, 3, 5][seed % 3]!;
    const r = runDriverSimulation({ seed, nodes, knobs, contractChecks });
    if (!r.ok) return { seed, nodes, failure: r.failure! };
  }
  return undefined;
}

test("applying entries before the Ready's write is caught at once (the ready contract)", () => {
  const f = firstFailure({ applyBeforeWrite: true }, 3);
  expect(f).toBeDefined();
  expect(f!.failure).toMatch(/ready contract: master \d+ applied entry \d+, but its disk/);
}, 30_000);

test("a follower acknowledging before its write is caught at once (persist before send)", () => {
  const f = firstFailure({ ackBeforeWrite: true }, 3);
  expect(f).toBeDefined();
  expect(f!.failure).toMatch(/ready contract: master \d+ (granted its vote|acknowledged entries)/);
}, 30_000);

test("without the contract checks, applying before the write is still caught, by its consequences", () => {
  const f = firstFailure({ applyBeforeWrite: true }, 30, false);
  expect(f).toBeDefined();
  expect(f!.failure).toMatch(/state machine safety|leader completeness|not linearizable|past the stored log/);
}, 30_000);

test("without the contract checks, a follower acknowledging before its write is still caught, by its consequences (crash points, isolated leaders)", () => {
  const f = firstFailure({ ackBeforeWrite: true }, 1000, false);
  expect(f).toBeDefined();
  expect(f!.failure).toMatch(/leader completeness|election safety|state machine safety|log matching|not linearizable/);
  console.log(`first caught at seed ${f!.seed} on ${f!.nodes} masters: ${f!.failure.split("\n")[0]}`);
}, 120_000);

test("a failing run replays exactly, and its replay line says how", () => {
  const a = runDriverSimulation({ seed: 1, nodes: 3, knobs: { ackBeforeWrite: true } });
  const b = runDriverSimulation({ seed: 1, nodes: 3, knobs: { ackBeforeWrite: true } });
  expect(a.ok).toBe(false);
  expect(b.failure).toBe(a.failure!);
  expect(b.digest).toBe(a.digest);
  expect(a.replay).toBe("scripts/sim --driver --seed 1 --nodes 3 --break ackBeforeWrite");
}, 30_000);

test("a state machine that applies retries again is caught (exactly-once writes are checked)", () => {
  let caught: string | undefined;
  for (let seed = 1; seed <= 300 && !caught; seed++) {
    const r = runDriverSimulation({ seed, nodes: [1, 3, 5][seed % 3]!, noDedup: true });
    if (!r.ok) caught = r.failure;
  }
  expect(caught).toMatch(/not linearizable/);
}, 120_000);

test("the same runs pass with the driver intact", () => {
  for (let seed = 1; seed <= 12; seed++) {
    const r = runDriverSimulation({ seed, nodes: [1, 3, 5][seed % 3]! });
    expect([seed, r.failure ?? "ok"]).toEqual([seed, "ok"]);
  }
}, 30_000);
