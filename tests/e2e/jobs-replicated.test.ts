/**
 * A job's start is its own replicated event (docs/jobs.md): `startedAt`
 * is there while the job runs, on every master, and survives a master
 * restart and a leader failover (it used to be written only with the end).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { jobClient, type Job } from "../helpers/jobs.ts";
import { TestCluster } from "../helpers/masters.ts";
import type { TestMaster } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

let cluster: TestCluster;
let agent: Proc;
let leader: TestMaster;
const work = tempDir("lava-jobs-repl-");
const jc = jobClient(() => leader);

beforeAll(async () => {
  // lostAfter well above a failover: the job keeps running on its agent throughout.
  cluster = await TestCluster.start(3, { config: "master:\n  reportInterval: 1\n  jobs:\n    lostAfter: 30\n" });
  leader = await cluster.leader(15_000);
  agent = await cluster.startAgent("r1", writeProcFixture(join(work, "proc")));
}, 60_000);

afterAll(() => teardown({ clients: [agent], masters: [cluster], work }));

describe("startedAt", () => {
  test("is replicated at the start, and survives a follower restart and a leader failover while the job runs", async () => {
    const id = await jc.submit(["--", "sleep", "60"]);
    const running = await jc.until(id, (j) => j.state === "RUN" && j.startedAt !== null, 15_000);
    const startedAt = running.startedAt!;
    // Every master's own database has it (the start entry is committed and applied everywhere).
    await waitFor(() => cluster.masters.every((m) => cluster.query<{ started_at: number | null }>(m, `SELECT started_at FROM jobs WHERE id = ${id}`)[0]?.started_at === Date.parse(startedAt)), 10_000, "startedAt on every master");

    // A follower restarted from its data dir.
    const follower = cluster.masters.find((m) => m !== leader)!;
    await follower.proc.kill9();
    await follower.restart();
    await waitFor(() => cluster.query<{ started_at: number | null }>(follower, `SELECT started_at FROM jobs WHERE id = ${id}`)[0]?.started_at === Date.parse(startedAt), 10_000, "startedAt on the restarted follower");

    // The leader killed: the new leader shows the same start while the job still runs.
    const old = leader;
    await old.proc.kill9();
    leader = await cluster.leader(20_000, old);
    const after = await waitFor(async () => {
      const r = await leader.api<Job>(`/api/v1/jobs/${id}`);
      return r.status === 200 ? r.body : null;
    }, 20_000, "the job from the new leader");
    expect(after.state).toBe("RUN");
    expect(after.startedAt).toBe(startedAt);
    expect(after.attempts).toBe(1);
    await old.restart();
    expect((await jc.ctl(["cancel", String(id)])).code).toBe(0);
    const ended = await jc.until(id, (j) => j.state === "KILLED");
    expect(ended.startedAt).toBe(startedAt);
  }, 90_000);
});
