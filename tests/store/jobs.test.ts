import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accounting, activeJobs, arrayById, arrayCounts, arrayElement, attemptsOf, auditSince, jobById, jobHistoryOf, listArrays, listJobs, openStore, type Command, type OpenedStore } from "../../src/store/index.ts";
import { openSoloLog, type SoloLog } from "../../src/master/raft/solo.ts";

const dirs: string[] = [];
const stores: OpenedStore[] = [];
const logs: SoloLog[] = [];
afterEach(() => {
  for (const l of logs.splice(0)) l.stop();
  for (const s of stores.splice(0)) s.sqlite.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function setup() {
  const d = mkdtempSync(join(tmpdir(), "lava-jobs-"));
  dirs.push(d);
  const s = openStore(d);
  stores.push(s);
  const clog = openSoloLog(s);
  logs.push(clog);
  return { s, clog };
}
const by = { actor: "alice", actorRole: "admin" as const };
const submit = (over: Partial<Extract<Command, { type: "job.submit" }>> = {}): Command => ({
  type: "job.submit", at: 1000, ...by, argv: ["true"], cpus: 1, memBytes: 0, gpus: 0, priority: 0, queue: "default", retries: 0, ...over,
});
const finish = (jobId: number, attempt: number, at = 3000): Command => ({
  type: "job.finish", at, ...by, jobId, attempt, state: "DONE", exitCode: 0, signal: null, reason: null, startedAt: 2500, stdout: "hi\n", stderr: "", stdoutTruncated: false, stderrTruncated: false,
});

describe("job state machine", () => {
  test("submit → dispatch → finish; a second finish of the same attempt is refused and changes nothing", async () => {
    const { s, clog } = setup();
    const a = await clog.propose(submit());
    expect(a.result).toEqual({ ok: true, value: { jobId: 1 } });
    const d = await clog.propose({ type: "job.dispatch", at: 2000, ...by, jobId: 1, hostId: 3, hostname: "h3" });
    expect(d.result).toEqual({ ok: true, value: { attempt: 1 } });
    expect((await clog.propose(finish(1, 1))).result.ok).toBe(true);
    const twice = await clog.propose(finish(1, 1, 9999));
    expect(twice.result).toMatchObject({ ok: false, error: "stale" });
    const job = jobById(s.db, 1)!;
    expect(job).toMatchObject({ state: "DONE", exitCode: 0, finishedAt: 3000, startedAt: 2500, stdout: "hi\n", hostname: "h3", attempts: 1 });
    expect(jobHistoryOf(s.db, 1).map((h) => h.state)).toEqual(["PEND", "RUN", "DONE"]);
    expect(activeJobs(s.db)).toEqual([]);
    // Requests are audited; scheduler bookkeeping is not.
    expect(auditSince(s.db, {}).map((r) => [r.action, r.target])).toEqual([["job.submit", "1"]]);
  });

  test("requeue goes back to PEND with its backoff while retries remain, then LOST; stale requeues are refused", async () => {
    const { s, clog } = setup();
    await clog.propose(submit({ retries: 1 }));
    await clog.propose({ type: "job.dispatch", at: 2000, ...by, jobId: 1, hostId: 1, hostname: "h1" });
    const r1 = await clog.propose({ type: "job.requeue", at: 3000, ...by, jobId: 1, attempt: 1, reason: "host h1 died", notBefore: 8000 });
    expect(r1.result).toEqual({ ok: true, value: { state: "PEND" } });
    expect(jobById(s.db, 1)).toMatchObject({ state: "PEND", notBefore: 8000, hostname: null });
    expect((await clog.propose({ type: "job.requeue", at: 3100, ...by, jobId: 1, attempt: 1, reason: "again", notBefore: 0 })).result.ok).toBe(false);
    await clog.propose({ type: "job.dispatch", at: 9000, ...by, jobId: 1, hostId: 2, hostname: "h2" });
    // The old attempt's late result no longer counts.
    expect((await clog.propose(finish(1, 1))).result.ok).toBe(false);
    const r2 = await clog.propose({ type: "job.requeue", at: 9500, ...by, jobId: 1, attempt: 2, reason: "host h2 died", notBefore: 20000 });
    expect(r2.result).toEqual({ ok: true, value: { state: "LOST" } });
    expect(jobHistoryOf(s.db, 1).map((h) => h.state)).toEqual(["PEND", "RUN", "PEND", "RUN", "LOST"]);
  });

  test("cancel ends a pending or running job KILLED, and refuses one that already ended", async () => {
    const { s, clog } = setup();
    await clog.propose(submit());
    await clog.propose(submit());
    await clog.propose({ type: "job.dispatch", at: 2000, ...by, jobId: 2, hostId: 1, hostname: "h1" });
    expect((await clog.propose({ type: "job.cancel", at: 2100, ...by, jobId: 1, reason: "cancelled by alice" })).result).toMatchObject({ ok: true, value: { previous: "PEND" } });
    expect((await clog.propose({ type: "job.cancel", at: 2200, ...by, jobId: 2, reason: "cancelled by alice" })).result).toMatchObject({ ok: true, value: { previous: "RUN", hostId: 1, attempt: 1 } });
    expect((await clog.propose({ type: "job.cancel", at: 2300, ...by, jobId: 2, reason: "again" })).result).toMatchObject({ ok: false, error: "conflict" });
    expect((await clog.propose({ type: "job.cancel", at: 2300, ...by, jobId: 99, reason: "x" })).result).toMatchObject({ ok: false, error: "unknown_job" });
    expect((await clog.propose(finish(2, 1))).result.ok).toBe(false);
    expect(listJobs(s.db, { states: ["KILLED"] }).map((j) => j.id)).toEqual([1, 2]);
  });

  test("listJobs filters by state, host and queue, and leaves output out", async () => {
    const { s, clog } = setup();
    await clog.propose(submit({ queue: "a" }));
    await clog.propose(submit({ queue: "b" }));
    await clog.propose({ type: "job.dispatch", at: 2000, ...by, jobId: 2, hostId: 1, hostname: "h1" });
    expect(listJobs(s.db, { queue: "a" }).map((j) => j.id)).toEqual([1]);
    expect(listJobs(s.db, { hostname: "h1" }).map((j) => j.id)).toEqual([2]);
    expect(listJobs(s.db, { states: ["PEND", "RUN"] }).map((j) => j.state)).toEqual(["PEND", "RUN"]);
    expect("stdout" in listJobs(s.db, {})[0]!).toBe(false);
    expect(listJobs(s.db, { limit: 1 }).map((j) => j.id)).toEqual([2]);
  });

  test("the start is its own entry: startedAt is kept from then on (before the end, after a failover), and the end does not erase it", async () => {
    const { s, clog } = setup();
    await clog.propose(submit());
    await clog.propose({ type: "job.dispatch", at: 2000, ...by, jobId: 1, hostId: 1, hostname: "h1" });
    const st = await clog.propose({ type: "job.start", at: 2100, ...by, starts: [{ jobId: 1, attempt: 1, at: 2050 }, { jobId: 1, attempt: 7, at: 1 }, { jobId: 42, attempt: 1, at: 1 }] });
    expect(st.result).toEqual({ ok: true, value: { started: [1] } });
    expect(jobById(s.db, 1)).toMatchObject({ state: "RUN", startedAt: 2050 });
    await clog.propose({ ...finish(1, 1), startedAt: null, elapsedMs: 950, cpuUserMs: 800, cpuSysMs: 100, maxRssBytes: 5_000_000 } as Command);
    expect(jobById(s.db, 1)).toMatchObject({ state: "DONE", startedAt: 2050 });
    expect(attemptsOf(s.db, 1)).toEqual([
      { jobId: 1, attempt: 1, hostname: "h1", dispatchedAt: 2000, startedAt: 2050, finishedAt: 3000, state: "DONE", exitCode: 0, signal: null, reason: null, elapsedMs: 950, cpuUserMs: 800, cpuSysMs: 100, maxRssBytes: 5_000_000 },
    ]);
    expect(accounting(s.db, { sinceMs: 0 })).toEqual([{ user: "alice", queue: "default", jobs: 1, attempts: 1, done: 1, exit: 0, killed: 0, lost: 0, elapsedMs: 950, cpuUserMs: 800, cpuSysMs: 100, maxRssBytes: 5_000_000 }]);
    expect(accounting(s.db, { sinceMs: 3001 })).toEqual([]);
  });

  test("a requeue and a cancel end the attempt's record too (LOST, KILLED)", async () => {
    const { s, clog } = setup();
    await clog.propose(submit({ retries: 1 }));
    await clog.propose({ type: "job.dispatch", at: 2000, ...by, jobId: 1, hostId: 1, hostname: "h1" });
    await clog.propose({ type: "job.requeue", at: 3000, ...by, jobId: 1, attempt: 1, reason: "host h1 died", notBefore: 0 });
    await clog.propose({ type: "job.dispatch", at: 4000, ...by, jobId: 1, hostId: 2, hostname: "h2" });
    await clog.propose({ type: "job.cancel", at: 5000, ...by, jobId: 1, reason: "cancelled by alice" });
    expect(attemptsOf(s.db, 1).map((a) => [a.attempt, a.hostname, a.state, a.finishedAt])).toEqual([
      [1, "h1", "LOST", 3000],
      [2, "h2", "KILLED", 5000],
    ]);
  });

  test("an array: one entry makes the array and its elements; cancel and hold take the whole array", async () => {
    const { s, clog } = setup();
    const a = await clog.propose(submit({ array: { spec: "1-5:2%2", first: 1, step: 2, count: 3, maxRunning: 2 }, name: "sim" }));
    expect(a.result).toEqual({ ok: true, value: { jobId: 1, array: true, count: 3 } });
    expect(arrayById(s.db, 1)).toMatchObject({ spec: "1-5:2%2", count: 3, maxRunning: 2, name: "sim" });
    expect(activeJobs(s.db).map((j) => [j.id, j.arrayId, j.arrayIndex, j.name])).toEqual([
      [2, 1, 1, "sim"],
      [3, 1, 3, "sim"],
      [4, 1, 5, "sim"],
    ]);
    expect(arrayElement(s.db, 1, 3)?.id).toBe(3);
    // The next job's id comes after the elements.
    expect((await clog.propose(submit())).result).toEqual({ ok: true, value: { jobId: 5 } });
    expect(listJobs(s.db, { noElements: true }).map((j) => j.id)).toEqual([5]);
    expect(listArrays(s.db, {}).map((x) => x.id)).toEqual([1]);
    const held = await clog.propose({ type: "job.hold", at: 1500, ...by, jobId: 1 });
    expect(held.result).toEqual({ ok: true, value: { jobIds: [2, 3, 4] } });
    await clog.propose({ type: "job.release", at: 1600, ...by, jobId: 3 });
    expect(activeJobs(s.db).map((j) => [j.id, j.heldBy])).toEqual([
      [2, "alice"],
      [3, null],
      [4, "alice"],
      [5, null],
    ]);
    await clog.propose({ type: "job.dispatch", at: 2000, ...by, jobId: 3, hostId: 4, hostname: "h4" });
    const c = await clog.propose({ type: "job.cancel", at: 3000, ...by, jobId: 1, reason: "cancelled by alice" });
    expect(c.result).toEqual({ ok: true, value: { array: true, cancelled: [2, 3, 4], running: [{ jobId: 3, hostId: 4, attempt: 1 }] } });
    expect(arrayCounts(s.db, [1]).get(1)).toMatchObject({ KILLED: 3, PEND: 0 });
    expect((await clog.propose({ type: "job.cancel", at: 3100, ...by, jobId: 1, reason: "again" })).result).toMatchObject({ ok: false, error: "conflict" });
    expect(jobHistoryOf(s.db, 1).map((h) => h.reason)).toEqual(["submitted: array 1-5:2%2, 3 elements", "held by alice"]);
  });

  test("hold and release only pending jobs", async () => {
    const { clog } = setup();
    await clog.propose(submit({ hold: true }));
    expect((await clog.propose({ type: "job.hold", at: 1100, ...by, jobId: 1 })).result).toEqual({ ok: true, value: { jobIds: [], already: true } });
    expect((await clog.propose({ type: "job.release", at: 1200, ...by, jobId: 1 })).result).toEqual({ ok: true, value: { jobIds: [1] } });
    await clog.propose({ type: "job.dispatch", at: 2000, ...by, jobId: 1, hostId: 1, hostname: "h1" });
    expect((await clog.propose({ type: "job.hold", at: 2100, ...by, jobId: 1 })).result).toMatchObject({ ok: false, error: "conflict" });
    expect((await clog.propose({ type: "job.hold", at: 2100, ...by, jobId: 9 })).result).toMatchObject({ ok: false, error: "unknown_job" });
  });
});
