/** bench/codec.ts --smoke in CI: every row measured, the ratios written, and the commit recorded. */
import { expect, test } from "bun:test";
import { failure, runSmoke } from "./run.ts";

test("bench/codec.ts --smoke measures every row and records the commit", async () => {
  const r = await runSmoke("codec.ts", [], 20_000);
  expect(failure(r)).toEqual({ code: 0, tail: "" });
  const res = r.result!;
  expect(res.smoke).toBe(true);
  for (const k of ["baselineOpsPerSec", "opsPerSec", "decodeOpsPerSec", "decodeAuthOpsPerSec", "encodeAuthOpsPerSec", "verifyTagOpsPerSec"]) expect(res[k]).toBeGreaterThan(0);
  expect(res.ratio).toBeGreaterThan(0);
  expect(res.commit).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
  expect(res.tree.dirty).toBe(res.commit.endsWith("-dirty"));
}, 30_000);
