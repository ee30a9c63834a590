/** bench/fleet.ts --failover --smoke in CI: three masters, 100 simulated agents, the leader SIGKILLed; figures written, no target judged (~10 s). */
import { expect, test } from "bun:test";
import { ensureBinary } from "../helpers/binary.ts";
import { failure, runSmoke } from "./run.ts";

test("bench/fleet.ts --failover --smoke moves the fleet to the new leader after SIGKILL of the old one", async () => {
  const r = await runSmoke("fleet.ts", ["--failover", "--lava", ensureBinary()], 60_000);
  expect(failure(r)).toEqual({ code: 0, tail: "" });
  const res = r.result!;
  expect(res.smoke).toBe(true);
  expect(res.mode).toBe("failover");
  expect(res.target).toBeNull();
  expect(res.hosts).toBe(100);
  expect(res.newLeaderNode).not.toBe(res.killedNode);
  expect(res.registeredWithNewLeaderAtEnd).toBe(100);
  expect(res.allBackAfterKillS).toEqual(expect.any(Number));
  expect(res.allOkAfterKillS).toEqual(expect.any(Number));
  // The leader named the follow spread for 100 hosts at 80 % of wsResumePerSec 2000.
  expect(res.followSpreadMsNamed).toBe(63);
}, 70_000);
