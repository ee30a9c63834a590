import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { activeJobs, auditSince, jobById, jobHistoryOf, listJobs, openStore, type Command, type OpenedStore } from "../../src/store/index.ts";
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
});
