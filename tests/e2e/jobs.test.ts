/**
 * Jobs end to end (design §5): the compiled master schedules onto compiled
 * agents that run real processes; `lava ctl` submits, waits, cancels.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { runLava } from "../helpers/binary.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
const agents = new Map<string, Proc>();
const work = tempDir("lava-jobs-");
// Jobs run as nobody (agent.jobs.user): what they write goes where nobody may write.
chmodSync(work, 0o777);
let fixture: string;
let agentToken: string;

type Job = { id: number; state: string; host: string | null; startedAt: string | null; exitCode: number | null; attempts: number; reason: string | null; waiting: string | null; stdout?: string; stderr?: string; history?: { state: string; host: string | null; reason: string | null }[] };

const ctl = (args: string[]) => runLava(["ctl", ...args], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken } });
async function submit(args: string[]): Promise<number> {
  const r = await ctl(["submit", ...args]);
  if (r.code !== 0) throw new Error(`submit failed (${r.code}): ${r.stderr}`);
  expect(r.stdout).toMatch(/^\d+\n$/);
  return Number(r.stdout);
}
async function job(id: number): Promise<Job> {
  return (await master.api<Job>(`/api/v1/jobs/${id}`)).body;
}
const until = (id: number, pred: (j: Job) => boolean, ms = 15_000, what = `job ${id}`) =>
  waitFor(async () => {
    const j = await job(id);
    return pred(j) ? j : null;
  }, ms, what, 50);
const pgrep = (pattern: string) => Bun.spawnSync(["pgrep", "-f", pattern]).exitCode === 0;

function agent(name: string): Proc {
  // lostAfter is 1 s here, so self-fencing would end jobs during the master restart below; it has its own tests (jobs-fencing).
  const p = startAgent(master, { hostname: name, procRoot: fixture, token: agentToken, env: { LAVA_JOBS_SELF_FENCE: "false" } });
  agents.set(name, p);
  return p;
}

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  announceInterval: 0.5\n  jobs:\n    lostAfter: 1\n    retryBackoff: 0.1\n    killGrace: 0.5\n" });
  fixture = writeProcFixture(join(work, "proc"));
  agentToken = (await ctl(["token", "create", "--role", "agent"])).stdout.trim();
  agent("job-a");
  agent("job-b");
  await waitFor(async () => {
    const l = (await master.api<{ status: string }[]>("/api/v1/load")).body;
    return l.length === 2 && l.every((h) => h.status === "ok");
  }, 15_000, "two ok hosts");
}, 30_000);

afterAll(() => teardown({ clients: [...agents.values()], masters: [master], work }));

describe("jobs", () => {
  test("output and exit codes are captured; `ctl wait` exits 0 for DONE, 1 otherwise", async () => {
    const ok = await submit(["--", "sh", "-c", "echo hello; echo oops >&2"]);
    const bad = await submit(["--", "sh", "-c", "exit 3"]);
    const missing = await submit(["--", "/no/such/binary"]);
    expect((await ctl(["wait", String(ok)])).code).toBe(0);
    expect((await ctl(["wait", String(ok), String(bad)])).code).toBe(1);
    const j = JSON.parse((await ctl(["job", String(ok), "--json"])).stdout) as Job;
    expect(j).toMatchObject({ state: "DONE", exitCode: 0, stdout: "hello\n", stderr: "oops\n", attempts: 1 });
    expect(["job-a", "job-b"]).toContain(j.host!);
    expect(await job(bad)).toMatchObject({ state: "EXIT", exitCode: 3 });
    const m = await until(missing, (x) => x.state !== "PEND" && x.state !== "RUN");
    expect(m.state).toBe("EXIT");
    expect(m.exitCode).toBe(127);
    const list = JSON.parse((await ctl(["jobs", "--json", "--state", "DONE,EXIT"])).stdout) as Job[];
    expect(list.map((x) => x.id)).toEqual(expect.arrayContaining([ok, bad, missing]));
    for (const x of list) expect(x).toHaveProperty("exitCode");
  }, 30_000);

  test("a job no host could ever fit is refused at submit with the reason (a usage error: exit 2)", async () => {
    const r = await ctl(["submit", "--cpus", "64", "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/64 cpus/);
  }, 15_000);

  test("a timeout kills the job's whole process group: KILLED, no process left", async () => {
    const id = await submit(["--timeout", "1", "--", "sh", "-c", "sleep 31.25 & sleep 31.25 & wait"]);
    await until(id, (j) => j.state === "RUN");
    await waitFor(() => pgrep("sleep 31.25"), 5000, "the job's children to run");
    const j = await until(id, (x) => x.state === "KILLED", 15_000);
    expect(j.reason).toMatch(/timeout/);
    await waitFor(() => !pgrep("sleep 31.25"), 5000, "no orphan left");
  }, 30_000);

  test("cancel ends a pending job (hosts drained: nothing fits) and a running one", async () => {
    expect((await ctl(["drain", "job-a"])).code).toBe(0);
    expect((await ctl(["drain", "job-b"])).code).toBe(0);
    const pend = await submit(["--", "true"]);
    const waiting = await until(pend, (j) => j.state === "PEND" && !!j.waiting && /drained/.test(j.waiting), 5000, "a waiting reason");
    expect(waiting.waiting).toMatch(/drained/);
    const c = await ctl(["cancel", String(pend)]);
    expect(c.code).toBe(0);
    expect((await job(pend)).state).toBe("KILLED");
    await ctl(["resume", "job-a"]);
    await ctl(["resume", "job-b"]);

    const run = await submit(["--", "sh", "-c", "sleep 32.5"]);
    await until(run, (j) => j.state === "RUN");
    await waitFor(() => pgrep("sleep 32.5"), 5000, "the job to run");
    expect((await ctl(["cancel", String(run)])).code).toBe(0);
    expect((await job(run)).state).toBe("KILLED");
    await waitFor(() => !pgrep("sleep 32.5"), 5000, "the cancelled job's process to go");
    expect((await ctl(["cancel", String(run)])).code).toBe(1); // already ended
  }, 30_000);

  test("no job is lost or run twice when the master is SIGKILLed mid-run and restarted", async () => {
    const log = join(work, "runs.log");
    const ids: number[] = [];
    for (let i = 0; i < 8; i++) ids.push(await submit(["--", "sh", "-c", `sleep 1; echo run-${i} >> ${log}`]));
    const before = await waitFor(async () => {
      const js = await Promise.all(ids.map(job));
      return js.some((j) => j.state === "RUN" && j.startedAt !== null) ? js : null;
    }, 10_000, "some jobs running");
    await master.proc.kill9();
    await master.restart();
    // The start is recorded on its own: a job running across the restart keeps its startedAt.
    for (const b of before.filter((j) => j.state === "RUN" && j.startedAt !== null)) expect((await job(b.id)).startedAt).toBe(b.startedAt);
    for (const id of ids) await until(id, (j) => j.state === "DONE", 30_000);
    for (const b of before.filter((j) => j.state === "RUN" && j.startedAt !== null)) expect((await job(b.id)).startedAt).toBe(b.startedAt);
    const lines = readFileSync(log, "utf8").trim().split("\n").sort();
    expect(lines).toEqual(Array.from({ length: 8 }, (_, i) => `run-${i}`).sort());
  }, 60_000);

  test("a job on an agent killed with SIGKILL is requeued and finishes on the other host", async () => {
    const id = await submit(["--retries", "1", "--", "sh", "-c", "sleep 3"]);
    const first = await until(id, (j) => j.state === "RUN");
    const victim = first.host!;
    await agents.get(victim)!.kill9();
    const done = await until(id, (j) => j.state === "DONE", 30_000);
    expect(done.attempts).toBe(2);
    expect(done.host).not.toBe(victim);
    const hist = (await job(id)).history!.map((h) => h.state);
    expect(hist).toEqual(["PEND", "RUN", "PEND", "RUN", "DONE"]);
    // Without retries the job is LOST instead.
    const survivor = done.host!;
    const lone = await submit(["--", "sh", "-c", "sleep 3"]);
    await until(lone, (j) => j.state === "RUN" && j.host === survivor);
    await agents.get(survivor)!.kill9();
    expect((await until(lone, (j) => j.state === "LOST", 30_000)).reason).toMatch(/no load report|control channel/);
  }, 60_000);
});
