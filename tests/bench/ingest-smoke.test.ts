/**
 * bench/ingest.ts --smoke in CI: the compiled master with its history on
 * and off and a second build (--vs, here the same binary) in the same
 * rounds as the bare receiver; every figure written, the decision said.
 */
import { expect, test } from "bun:test";
import { ensureBinary } from "../helpers/binary.ts";
import { failure, runSmoke } from "./run.ts";

test("bench/ingest.ts --smoke blasts the bare receiver and three masters in rotating rounds", async () => {
  const bin = ensureBinary();
  const r = await runSmoke("ingest.ts", ["--lava", bin, "--vs", bin], 60_000);
  expect(failure(r)).toEqual({ code: 0, tail: "" });
  const res = r.result!;
  expect(res.smoke).toBe(true);
  expect(res.targets).toBeNull();
  expect(res.master.accepted).toBeGreaterThan(0);
  expect(res.master.dropsTotal).toBe(0);
  expect(res.bare.received).toBeGreaterThan(0);
  expect(["cpu-bound", "throughput"]).toContain(res.decidedBy);
  expect(r.stdout).toContain("decided by the");
  expect(res.history.off.received).toBeGreaterThan(0);
  expect(res.history.onOverOff.ratio).toBeGreaterThan(0);
  expect(res.vs.master.received).toBeGreaterThan(0);
  expect(res.vs.ratio).toBeGreaterThan(0);
  // Each round rotates the order: no receiver always goes first.
  expect(res.roundOrders[0][0]).not.toBe(res.roundOrders[1][0]);
}, 70_000);
