/** bench/sync.ts --smoke in CI: three masters, 100 agents, load read on leader and follower, the leader killed; figures written. */
import { expect, test } from "bun:test";
import { ensureBinary } from "../helpers/binary.ts";
import { failure, runSmoke } from "./run.ts";

test("bench/sync.ts --smoke reads load on leader and follower and survives the leader's SIGKILL", async () => {
  const r = await runSmoke("sync.ts", ["--bin", ensureBinary()], 60_000);
  expect(failure(r)).toEqual({ code: 0, tail: "" });
  const res = r.result!;
  expect(res.smoke).toBe(true);
  expect(res.hosts).toBe(100);
  expect(res.loadMs.follower.p50).toBeGreaterThan(0);
  expect(res.failover.firstAnswerHosts).toBe(100);
  expect(res.failover.allOkAfterKillMs).toBeGreaterThan(0);
}, 70_000);
