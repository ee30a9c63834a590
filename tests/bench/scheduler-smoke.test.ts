/** bench/scheduler.ts --smoke in CI: every fixture scheduled (10,000 jobs × 1,000 hosts) and its figures written. */
import { expect, test } from "bun:test";
import { failure, runSmoke } from "./run.ts";

test("bench/scheduler.ts --smoke schedules every fixture", async () => {
  const r = await runSmoke("scheduler.ts", [], 30_000);
  expect(failure(r)).toEqual({ code: 0, tail: "" });
  const res = r.result!;
  expect(res.smoke).toBe(true);
  expect(res.fixtures.map((f: { fixture: string }) => f.fixture)).toEqual(["spread", "mixed", "saturated", "membound"]);
  for (const f of res.fixtures) {
    expect(f.rounds).toBeGreaterThanOrEqual(5);
    expect(f.roundMsP50).toBeGreaterThan(0);
  }
  // The spread fixture fits everything: a scheduler that places less is broken, not slow.
  expect(res.fixtures[0].placed).toBe(10_000);
}, 40_000);
