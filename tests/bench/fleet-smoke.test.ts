/** bench/fleet.ts --smoke in CI: 100 simulated agents, the master restarted half-way, ctl timed; figures written, no targets judged. */
import { expect, test } from "bun:test";
import { ensureBinary } from "../helpers/binary.ts";
import { failure, runSmoke } from "./run.ts";

test("bench/fleet.ts --smoke runs the fleet through a master restart", async () => {
  const r = await runSmoke("fleet.ts", ["--lava", ensureBinary()], 60_000);
  expect(failure(r)).toEqual({ code: 0, tail: "" });
  const res = r.result!;
  expect(res.smoke).toBe(true);
  expect(res.targets).toBeNull();
  expect(res.hosts).toBe(100);
  expect(res.reports.accepted).toBeGreaterThan(0);
  expect(res.restartInfo.downtimeMs).toBeGreaterThan(0);
  expect(res.ctlLoad.entriesOk).toBe(true);
  expect(res.rss.perHostBytes).toEqual(expect.any(Number));
}, 70_000);
