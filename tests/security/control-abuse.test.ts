/**
 * Issue 11's abuse test: from an AUTHENTICATED agent session (a raw client
 * that registered its own host with a proper host key), 10,000 seeded
 * messages of every type, naming other hosts' jobs, stale and future
 * attempts, with fields as large as a frame allows. Afterwards every job
 * and every other host is unchanged, nothing was appended to the log, and
 * lava.db grew by less than 1 MiB. LAVA_FUZZ_SEED replays a run.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { seededRng } from "../helpers/rng.ts";
import { waitFor } from "../helpers/wait.ts";
import { RawAgent } from "../master/raw-agent.ts";
import { ctl, lastIndex, refused, type Row } from "./lib.ts";
import { teardown } from "../helpers/teardown.ts";

const SEED = Number(process.env.LAVA_FUZZ_SEED ?? 20261206);
const MESSAGES = 10_000;
const MIB = 1 << 20;

let master: TestMaster;
let victim: Proc;
let bystander: RawAgent;
let abuser: RawAgent;
let running: number;
let done: number;
const work = tempDir("lava-sec-abuse-");

const dbBytes = () => {
  const f = join(master.dataDir, "lava.db");
  return statSync(f).size + (statSync(`${f}-wal`, { throwIfNoEntry: false })?.size ?? 0);
};

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n" });
  victim = startAgent(master, { hostname: "victim", procRoot: writeProcFixture(join(work, "proc")) });
  await waitFor(async () => (await master.api<Row[]>("/api/v1/load")).body.find((h) => h.host === "victim" && h.status === "ok"), 15_000, "victim ok");
  bystander = await RawAgent.connect(master, "bystander");
  done = Number((await ctl(master, ["submit", "--", "/bin/echo", "finished output"])).stdout.trim());
  await waitFor(async () => (await master.api<Row>(`/api/v1/jobs/${done}`)).body.state === "DONE", 15_000, "first job done");
  running = Number((await ctl(master, ["submit", "--", "/bin/sleep", "300"])).stdout.trim());
  // Its start recorded too (its own log entry, a few ms after the agent reports it): the log is still from here on.
  await waitFor(async () => {
    const j = (await master.api<Row>(`/api/v1/jobs/${running}`)).body;
    return j.state === "RUN" && j.startedAt !== null;
  }, 15_000, "second job running");
  abuser = await RawAgent.connect(master, "abuser");
}, 60_000);

afterAll(() => teardown({ clients: [abuser, bystander, victim], masters: [master], work }));

/** What must not change: every job in full, every other host's durable fields. */
async function snapshot() {
  // elapsedMs is left out: it counts up while a job runs (a live figure, not stored).
  const jobs = await Promise.all((await master.api<Row[]>("/api/v1/jobs?all=1")).body.map(async (j): Promise<Row> => ({ ...(await master.api<Row>(`/api/v1/jobs/${j.id}`)).body, elapsedMs: null })));
  const hosts = (await master.api<Row[]>("/api/v1/hosts")).body
    .filter((h) => h.host !== "abuser")
    .map((h) => ({ host: h.host, hostId: h.hostId, ncpus: h.ncpus, memBytes: h.memBytes, os: h.os, version: h.version, connected: h.connected, drained: h.drained, hostKey: h.hostKey, registeredAt: h.registeredAt, agentStatus: h.agentStatus }));
  return { jobs, hosts };
}

function generator(rng: () => number, jobIds: number[]) {
  const int = (n: number) => Math.floor(rng() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const big = (n: number) => "A".repeat(n);
  const text = () => (rng() < 0.03 ? big(int(900_000)) : `t${int(1e6)}`);
  const jobId = () => (rng() < 0.7 ? pick(jobIds) : 1 + int(1e9));
  const attempt = () => pick([1, 1, 2, 3, 999]);
  const makers: Record<string, () => Row> = {
    register: () => ({ type: "register", hostname: pick(["victim", "bystander", "abuser", `new-${int(1e6)}`]), hardware: { ncpus: 1 + int(64), memBytes: int(1e12), gpus: 0 }, reportPort: 1 + int(65000), version: "x" }),
    pong: () => ({ type: "pong", ts: rng() * 1e13 }),
    job_event_finished: () => ({ type: "job_event", eventId: `e${int(1e9)}`, jobId: jobId(), attempt: attempt(), event: "finished", at: Date.now(), state: pick(["DONE", "EXIT", "KILLED"]), exitCode: int(256), signal: pick([null, "SIGKILL", "x".repeat(20)]), reason: text().slice(0, 1000), startedAt: pick([Date.now(), 1e15, 0]), stdout: text(), stderr: rng() < 0.5 ? "" : text().slice(0, 50_000), stdoutTruncated: rng() < 0.5 }),
    job_event_started: () => ({ type: "job_event", eventId: `s${int(1e9)}`, jobId: jobId(), attempt: attempt(), event: "started", at: Date.now(), pid: int(1e6) }),
    status: () => ({ type: "status", jobs: Array.from({ length: int(rng() < 0.05 ? 30_000 : 5) }, () => ({ jobId: jobId(), attempt: attempt() })), ...(rng() < 0.5 ? { status: pick(["online", "degraded", "offline"]), detail: text().slice(0, 500) } : {}) }),
    session_refresh: () => ({ type: "session_refresh" }),
    command_output: () => ({ type: "command_output", requestId: `r${int(1e6)}`, stream: pick(["stdout", "stderr"]), data: text().slice(0, 256 * 1024) }),
    command_result: () => ({ type: "command_result", requestId: `r${int(1e6)}`, status: pick(["ok", "refused", "failed", "timeout"]), exitCode: int(3), error: text().slice(0, 2000) }),
    health: () => ({ type: "health", ...(rng() < 0.5 ? { requestId: `r${int(1e6)}` } : {}), at: Date.now(), checks: Object.fromEntries(Array.from({ length: int(rng() < 0.05 ? 256 : 4) }, (_, i) => [`c${i}`, { status: pick(["ok", "warning", "critical", "unknown"]), detail: text().slice(0, 2000) }])) }),
    alert: () => ({ type: "alert", id: `a${int(rng() < 0.5 ? 10 : 1e6)}`, rule: pick(["cpu-high", "disk-full", `r${int(1e4)}`]), severity: pick(["info", "warning", "critical"]), state: pick(["firing", "resolved"]), message: text().slice(0, 2000), value: rng() * 100, at: Date.now() }),
    log_line: () => ({ type: "log_line", requestId: `r${int(1e6)}`, line: text().slice(0, 64 * 1024) }),
    logs_end: () => ({ type: "logs_end", requestId: `r${int(1e6)}` }),
  };
  const kinds = Object.keys(makers);
  return (): { kind: string; data: string } => {
    const kind = pick(kinds);
    let data = JSON.stringify(makers[kind]!());
    if (data.length >= MIB) data = JSON.stringify({ type: "pong" });
    return { kind, data };
  };
}

describe("an authenticated agent session speaks only for its own host", () => {
  test(`${MESSAGES} seeded messages of every type (seed ${SEED}) change no other host, no job, and nothing in the log`, async () => {
    const before = await snapshot();
    expect(before.jobs.map((j) => j.state).sort()).toEqual(["DONE", "RUN"]);
    expect(before.hosts.map((h) => h.host).sort()).toEqual(["bystander", "victim"]);
    const idx = await lastIndex(master);
    const bytes = dbBytes();
    const refusedBefore = await refused(master, "job_other_host");
    const next = generator(seededRng(SEED), [running, done]);
    const kinds: Record<string, number> = {};
    const t0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) {
      const m = next();
      kinds[m.kind] = (kinds[m.kind] ?? 0) + 1;
      abuser.send(m.data);
      // Let the socket drain now and then: bounded memory on both sides.
      if (i % 500 === 499) await waitFor(() => abuser.ws.bufferedAmount < 4 * MIB, 10_000, "send buffer drained");
      if (m.kind === "register") {
        // One connection registers once: a second register is refused and closes it. The abuser comes
        // back with its session token, which resumes its session without a write.
        await waitFor(() => abuser.closed, 5000, "refused register closing the connection");
        expect(abuser.closeCode).toBe(4003);
        abuser = await RawAgent.connect(master, "abuser", "0.0.1-raw", { token: abuser.registered.sessionToken as string });
      }
    }
    // A sentinel: the master answers messages in order, so its answer means all the above were handled.
    abuser.send("sentinel, not JSON");
    await abuser.next((m) => m.type === "error" && m.error === "bad_json", 30_000);
    expect(Object.keys(kinds).length).toBe(12);
    expect(performance.now() - t0).toBeLessThan(90_000);

    // Nothing reached the log; the database barely moved; every job and every other host is as it was.
    expect(await lastIndex(master)).toBe(idx);
    expect(dbBytes() - bytes).toBeLessThan(MIB);
    expect(await snapshot()).toEqual(before);
    expect((await master.api<Row>(`/api/v1/jobs/${running}`)).body.state).toBe("RUN");
    expect(await refused(master, "job_other_host")).toBeGreaterThan(refusedBefore);
    expect(master.proc.proc.exitCode).toBeNull();
    // The victim's channel works: the running job can still be cancelled through it.
    expect((await ctl(master, ["cancel", String(running)])).code).toBe(0);
    await waitFor(async () => (await master.api<Row>(`/api/v1/jobs/${running}`)).body.state === "KILLED", 15_000, "job killed by its own host");
  }, 150_000);
});
