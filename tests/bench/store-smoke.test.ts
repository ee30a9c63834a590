/** bench/store.ts --smoke in CI: the command log with 1 and 64 clients beside raw inserts, every command acknowledged. */
import { expect, test } from "bun:test";
import { failure, runSmoke } from "./run.ts";

test("bench/store.ts --smoke measures the command log against raw inserts", async () => {
  const r = await runSmoke("store.ts", [], 30_000);
  expect(failure(r)).toEqual({ code: 0, tail: "" });
  const res = r.result!;
  expect(res.smoke).toBe(true);
  expect(res.baselineRawInsertsPerSec).toBeGreaterThan(0);
  for (const k of ["oneClient", "clients64"]) {
    expect(res[k].perSec).toBeGreaterThan(0);
    expect(res[k].latencyP99Ms).toBeGreaterThanOrEqual(res[k].latencyP50Ms);
  }
}, 40_000);
