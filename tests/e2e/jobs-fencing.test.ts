/**
 * At most one attempt of a job runs at a time (docs/jobs.md "Orphans and
 * double runs"), with compiled agents killed for real: SIGKILL of the agent
 * (its keeper ends the job), SIGKILL of the agent and its keeper (the
 * restarted agent ends what it finds before taking work), and a job
 * cancelled while its host was unreachable (killed when the agent comes
 * back, before it starts the next job). Every check reads /proc, where the
 * job processes carry LAVA_JOB_ID and LAVA_JOB_ATTEMPT.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { agentStateDir, startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { jobClient, jobProcs } from "../helpers/jobs.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const work = tempDir("lava-fence-");
const fixture = writeProcFixture(join(work, "proc"));
let master: TestMaster;
const jc = jobClient(() => master);
const agents = new Map<string, { proc: Proc; stateDir: string }>();

function agent(name: string, stateDir = agentStateDir()): Proc {
  const proc = startAgent(master, { hostname: name, procRoot: fixture, stateDir });
  agents.set(name, { proc, stateDir });
  return proc;
}

/** Watches /proc every 20 ms: the most attempts of `jobId` seen alive at once, and when attempt `a` was last seen. */
function watch(jobId: number) {
  let maxAttempts = 0;
  const lastSeen = new Map<number, number>();
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const mine = jobProcs().filter((p) => p.jobId === jobId);
      const attempts = new Set(mine.map((p) => p.attempt));
      maxAttempts = Math.max(maxAttempts, attempts.size);
      for (const a of attempts) lastSeen.set(a, performance.now());
      await Bun.sleep(20);
    }
  })();
  return {
    get maxAttempts() {
      return maxAttempts;
    },
    lastSeen: (attempt: number) => lastSeen.get(attempt) ?? null,
    async stop() {
      stop = true;
      await done;
    },
  };
}

const running = (jobId: number, attempt: number) => jobProcs().some((p) => p.jobId === jobId && p.attempt === attempt);

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  announceInterval: 0.5\n  jobs:\n    lostAfter: 2\n    retryBackoff: 0.1\n    killGrace: 0.5\n" });
  agent("fence-a");
  agent("fence-b");
  await waitFor(async () => (await master.api<{ status: string }[]>("/api/v1/load")).body.filter((h) => h.status === "ok").length === 2, 15_000, "two ok hosts");
}, 30_000);

afterAll(() => teardown({ clients: [...agents.values()].map((a) => a.proc), masters: [master], work }));

describe("one attempt at a time", () => {
  test("SIGKILL of the agent mid-job (--retries 1): the keeper ends the orphan at once, the retry never overlaps it", async () => {
    const id = await jc.submit(["--retries", "1", "--", "sh", "-c", "sleep 41.5"]);
    const first = await jc.until(id, (j) => j.state === "RUN" && j.startedAt !== null);
    await waitFor(() => running(id, 1), 5000, "attempt 1 in /proc");
    const w = watch(id);
    const victim = agents.get(first.host!)!;
    const killedAt = performance.now();
    await victim.proc.kill9();
    // The window docs/jobs.md states for a killed agent: its keeper's SIGTERM (then SIGKILL after killGrace).
    await waitFor(() => !running(id, 1), 3000, "the orphaned attempt to be ended by the keeper");
    const goneAfterMs = performance.now() - killedAt;
    const second = await jc.until(id, (j) => j.attempts === 2 && j.state === "RUN", 20_000, "attempt 2 running");
    expect(second.host).not.toBe(first.host);
    await waitFor(() => running(id, 2), 5000, "attempt 2 in /proc");
    await w.stop();
    expect(w.maxAttempts).toBe(1);
    expect(goneAfterMs).toBeLessThan(3000);
    // Attempt 1 was gone long before attempt 2 started.
    expect(w.lastSeen(1)! - killedAt).toBeLessThan(3000);
    expect((await jc.ctl(["cancel", String(id)])).code).toBe(0);
    await waitFor(() => !running(id, 2), 5000, "attempt 2 to end");
    // The killed agent comes back for the next tests.
    agent(first.host!, victim.stateDir);
    await waitFor(async () => (await master.api<{ status: string }[]>("/api/v1/load")).body.filter((h) => h.status === "ok").length === 2, 15_000, "two ok hosts again");
  }, 60_000);

  test("agent and keeper both SIGKILLed: the restarted agent ends the leftover before it takes work, and the master requeues it", async () => {
    const id = await jc.submit(["--retries", "1", "--hosts", "fence-a", "--", "sh", "-c", "sleep 42.5"]);
    await jc.until(id, (j) => j.state === "RUN" && j.startedAt !== null);
    await waitFor(() => running(id, 1), 5000, "attempt 1 in /proc");
    const a = agents.get("fence-a")!;
    const keeperPid = Number(readFileSync(join(a.stateDir, "keeper.pid"), "utf8"));
    expect(readFileSync(`/proc/${keeperPid}/cmdline`, "utf8")).toContain("lava-job-keeper");
    const w = watch(id);
    process.kill(keeperPid, "SIGKILL");
    await a.proc.kill9();
    // Nobody is left to end it: it runs on.
    await Bun.sleep(300);
    expect(running(id, 1)).toBe(true);
    agent("fence-a", a.stateDir);
    await waitFor(() => !running(id, 1), 10_000, "the restarted agent to end the leftover");
    const j = await jc.until(id, (x) => x.attempts === 2 && x.state === "RUN", 20_000, "attempt 2 running");
    await w.stop();
    expect(w.maxAttempts).toBe(1);
    expect(j.history!.find((h) => h.attempt === 1 && h.state === "PEND")?.reason).toMatch(/the agent restarted while the job ran; its processes were ended/);
    expect((await jc.ctl(["cancel", String(id)])).code).toBe(0);
    await waitFor(() => !running(id, 2), 5000, "attempt 2 to end");
  }, 60_000);
});

describe("self-fencing", () => {
  test("an agent that loses every master ends its jobs itself before the master could requeue them; the requeued attempt runs when the master is back", async () => {
    const m3 = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  jobs:\n    lostAfter: 3\n    retryBackoff: 0.1\n    killGrace: 0.5\n" });
    const jc3 = jobClient(() => m3);
    const a = startAgent(m3, { hostname: "fenced", procRoot: fixture });
    try {
      await waitFor(async () => (await m3.api<{ status: string }[]>("/api/v1/load")).body.some((h) => h.status === "ok"), 15_000, "an ok host");
      const id = await jc3.submit(["--retries", "1", "--", "sh", "-c", "sleep 44.5"]);
      await jc3.until(id, (j) => j.state === "RUN" && j.startedAt !== null);
      await waitFor(() => running(id, 1), 5000, "the job in /proc");
      const w = watch(id);
      const t0 = performance.now();
      await m3.proc.kill9();
      // lostAfter 3 s: the agent fences 1.5 s (max(1.5, 3 − 0.5 − 2)) after it last heard the master, which was at most that before the kill.
      await waitFor(() => !running(id, 1), 6000, "the agent to end its job itself");
      expect(performance.now() - t0).toBeLessThan(3000);
      await m3.restart();
      const j = await jc3.until(id, (x) => x.attempts === 2 && x.state === "RUN", 20_000, "attempt 2 running");
      await w.stop();
      expect(w.maxAttempts).toBe(1);
      expect(j.history!.find((h) => h.attempt === 1 && h.state === "PEND")?.reason).toMatch(/no master heard for/);
      await jc3.ctl(["cancel", String(id)]);
    } finally {
      await a.stop();
      await m3.stop();
      m3.cleanup();
    }
  }, 60_000);
});

describe("a host that was unreachable", () => {
  let m2: TestMaster;
  const jc2 = jobClient(() => m2);
  let lone: Proc;

  beforeAll(async () => {
    // A long lostAfter: nothing is requeued or fenced while the agent is stopped; a short ping interval: the master drops its session.
    m2 = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  pingInterval: 0.3\n  jobs:\n    lostAfter: 60\n    killGrace: 0.5\n" });
    lone = startAgent(m2, { hostname: "far-host", procRoot: fixture });
    await waitFor(async () => (await m2.api<{ status: string }[]>("/api/v1/load")).body.some((h) => h.status === "ok"), 15_000, "an ok host");
  }, 30_000);

  afterAll(() => teardown({ clients: [lone], masters: [m2] }));

  test("a job cancelled while its agent was stopped is killed when it comes back, before the next job starts there", async () => {
    const id = await jc2.submit(["--", "sh", "-c", "sleep 43.5"]);
    await jc2.until(id, (j) => j.state === "RUN" && j.startedAt !== null);
    await waitFor(() => running(id, 1), 5000, "the job in /proc");
    lone.proc.kill("SIGSTOP");
    try {
      // The master drops the silent session (two missed pings), then the job is cancelled: the kill cannot be delivered.
      await waitFor(async () => (await m2.api<{ connected: boolean }[]>("/api/v1/hosts")).body.every((h) => !h.connected), 10_000, "the session to be dropped");
      expect((await jc2.ctl(["cancel", String(id)])).code).toBe(0);
      expect((await jc2.job(id)).state).toBe("KILLED");
      // The next job for that host checks that nothing of the cancelled one is left when it starts.
      const next = await jc2.submit(["--hosts", "far-host", "--", "sh", "-c", "if pgrep -f 'slee[p] 43.5' >/dev/null; then echo overlap; else echo clean; fi"]);
      await Bun.sleep(500);
      expect(running(id, 1)).toBe(true);
      lone.proc.kill("SIGCONT");
      await waitFor(() => !running(id, 1), 10_000, "the cancelled job to be killed on the agent's return");
      const n = await jc2.until(next, (j) => j.state === "DONE", 15_000);
      expect(n.stdout).toBe("clean\n");
    } finally {
      lone.proc.kill("SIGCONT");
    }
  }, 60_000);
});
