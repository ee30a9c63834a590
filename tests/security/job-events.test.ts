/**
 * Issue 11, items 1 and 2: a `job_event` is accepted only from the session
 * of the host that runs the job's current attempt. An attacker holding an
 * authenticated agent session of its own (a raw WebSocket client) tries to
 * end a job running on another host, to report on jobs that do not exist
 * with ~1 MiB of output each (which used to reach the Raft log), and to
 * report a stale attempt. Each is refused and counted, the log does not
 * move, and the victim's job keeps running.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { statSync } from "node:fs";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { RawAgent } from "../master/raw-agent.ts";
import { ctl, lastIndex, refused, type Row } from "./lib.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
let victim: Proc;
let attacker: RawAgent;
let jobId: number;
const work = tempDir("lava-sec-jobs-");

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n" });
  victim = startAgent(master, { hostname: "victim", procRoot: writeProcFixture(join(work, "proc")) });
  await waitFor(async () => (await master.api<Row[]>("/api/v1/load")).body.find((h) => h.host === "victim" && h.status === "ok"), 15_000, "victim ok");
  // The attacker is a registered host too (it sends no reports, so it is unavail and takes no jobs).
  attacker = await RawAgent.connect(master, "attacker");
  const r = await ctl(master, ["submit", "--", "/bin/sleep", "60"]);
  expect(r.code).toBe(0);
  jobId = Number(r.stdout.trim());
  // Its start recorded too (its own log entry, a few ms after the agent reports it): the log is still from here on.
  await waitFor(async () => {
    const j = (await master.api<Row>(`/api/v1/jobs/${jobId}`)).body;
    return j.state === "RUN" && j.startedAt !== null;
  }, 10_000, "job running on victim");
}, 40_000);

afterAll(() => teardown({ clients: [attacker, victim], masters: [master], work }));

const finished = (id: number, attempt: number, extra: Row = {}) => ({ type: "job_event", eventId: `evil-${id}-${attempt}-${Math.random()}`, jobId: id, attempt, event: "finished", at: Date.now(), state: "DONE", exitCode: 0, stdout: "forged", ...extra });

describe("job events speak only for their own host", () => {
  test("ending another host's job is refused and counted; the job keeps running and nothing reaches the log", async () => {
    const job = (await master.api<Row>(`/api/v1/jobs/${jobId}`)).body;
    expect(job.host).toBe("victim");
    const before = { idx: await lastIndex(master), n: await refused(master, "job_other_host") };
    attacker.send(finished(jobId, job.attempts as number));
    // Acked all the same (no state changed; the agent may forget it), and counted.
    await attacker.next((m) => m.type === "ack");
    await waitFor(async () => (await refused(master, "job_other_host")) === before.n + 1, 5000, "refusal counted");
    expect(await lastIndex(master)).toBe(before.idx);
    const after = (await master.api<Row>(`/api/v1/jobs/${jobId}`)).body;
    expect(after.state).toBe("RUN");
    expect(String(after.stdout ?? "")).not.toContain("forged");
  });

  test("events for jobs that do not exist, with ~1 MiB of output each, are refused before the log: it does not grow", async () => {
    const before = { idx: await lastIndex(master), n: await refused(master, "job_not_found") };
    const dbFile = join(master.dataDir, "lava.db");
    const sizeBefore = statSync(dbFile).size + (statSync(`${dbFile}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    const big = "x".repeat(1_000_000);
    for (let i = 0; i < 20; i++) attacker.send(finished(10_000_000 + i, 1, { stdout: big }));
    await waitFor(async () => (await refused(master, "job_not_found")) === before.n + 20, 10_000, "20 refusals counted");
    expect(await lastIndex(master)).toBe(before.idx);
    const sizeAfter = statSync(dbFile).size + (statSync(`${dbFile}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    expect(sizeAfter - sizeBefore).toBeLessThan(256 * 1024);
  }, 20_000);

  test("a stale attempt of the host's own job, and a job not running, are refused", async () => {
    // The victim's own channel cannot be driven from here; the attacker's host has no job: both cases are someone else's.
    const before = { idx: await lastIndex(master), stale: await refused(master, "job_other_host") };
    attacker.send(finished(jobId, 99));
    attacker.send({ type: "job_event", eventId: "evil-started", jobId, attempt: 1, event: "started", at: Date.now() });
    await waitFor(async () => (await refused(master, "job_other_host")) === before.stale + 2, 5000, "refusals counted");
    expect(await lastIndex(master)).toBe(before.idx);
    expect((await master.api<Row>(`/api/v1/jobs/${jobId}`)).body.state).toBe("RUN");
  });

  test("the real host still ends its job: cancel goes through and the victim reports KILLED", async () => {
    expect((await ctl(master, ["cancel", String(jobId)])).code).toBe(0);
    await waitFor(async () => (await master.api<Row>(`/api/v1/jobs/${jobId}`)).body.state === "KILLED", 15_000, "job killed");
  }, 20_000);
});
