/**
 * The agent's job runner with real processes (no mocks): what a job gets
 * (argv, cwd, env), how it ends (DONE / EXIT / KILLED and why), that kills
 * reach the whole process group, that output is bounded, that an attempt
 * runs once, and that events stay until acked. The last block drives the
 * whole agent through the fake master over a real WebSocket.
 *
 * Every wait has a deadline (waitFor); tests that wait on kills have their
 * own timeout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { createAgent, createJobRunner, type Agent, type JobRunner, type JobRunnerOptions } from "../../src/agent/index.ts";
import { AgentSchema } from "../../src/config/index.ts";
import { JobEventSchema, MAX_MESSAGE_BYTES, type JobEvent, type RunJob } from "../../src/control/index.ts";
import { readRecords, readStartTime, START_UNREAD } from "../../src/agent/jobs/records.ts";
import { FIRST_LOOK_MS } from "../../src/agent/jobs/runner.ts";
import { seededRng } from "../helpers/rng.ts";
import { waitFor } from "../helpers/wait.ts";
import { fakeProcRoot, FakeMaster } from "./fake-master.ts";
import { GROUP_GONE_MS, groupGone, groupMembers } from "./procs.ts";

const MIB = 1 << 20;

let dir: string;
const runners: JobRunner[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "lava-jobs-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const r of runners.splice(0)) await r.stop("test over");
});

interface Harness {
  runner: JobRunner;
  events: JobEvent[];
  started(jobId: number, attempt?: number): Promise<JobEvent>;
  finished(jobId: number, attempt?: number, timeoutMs?: number): Promise<JobEvent>;
}

function harness(opts: Omit<JobRunnerOptions, "onEvent"> = {}): Harness {
  const events: JobEvent[] = [];
  const runner = createJobRunner({ bootId: "boot1", env: { PATH: process.env.PATH }, ...opts, onEvent: (ev) => events.push(ev) });
  runners.push(runner);
  const find = (kind: JobEvent["event"], jobId: number, attempt: number, timeoutMs: number) =>
    waitFor(() => events.find((e) => e.event === kind && e.jobId === jobId && e.attempt === attempt), timeoutMs, `${kind} of job ${jobId}/${attempt}`);
  return {
    runner,
    events,
    started: (jobId, attempt = 1) => find("started", jobId, attempt, 5000),
    finished: (jobId, attempt = 1, timeoutMs = 5000) => find("finished", jobId, attempt, timeoutMs),
  };
}

function job(jobId: number, argv: string[], extra: Partial<RunJob> = {}): RunJob {
  return { type: "run_job", jobId, attempt: 1, argv, ...extra };
}

describe("job runner: peek, signals, files", () => {
  test("peek returns what a running job wrote, from an offset; an -o file is read only if it is a regular file, never through a symlink", async () => {
    const h = harness();
    h.runner.run(job(71, ["sh", "-c", "echo first; echo second; sleep 30"]));
    await h.started(71);
    const p = await waitFor(() => {
      const out = h.runner.peek({ type: "peek_job", requestId: "r1", jobId: 71 });
      return out.stdout === "first\nsecond\n" ? out : null;
    }, 5000, "the output");
    expect(p).toMatchObject({ type: "job_output", requestId: "r1", running: true, stdoutFrom: 0, stdoutTotal: 13 });
    expect(h.runner.peek({ type: "peek_job", requestId: "r2", jobId: 71, stdoutFrom: 6 }).stdout).toBe("second\n");
    expect(h.runner.peek({ type: "peek_job", requestId: "r3", jobId: 99 })).toMatchObject({ running: false, error: "job 99 is not running on this host" });

    const out = join(dir, "peek.out");
    h.runner.run(job(72, ["sh", "-c", "echo to-file; sleep 30"], { stdoutPath: out }));
    await h.started(72);
    await waitFor(() => h.runner.peek({ type: "peek_job", requestId: "r4", jobId: 72 }).stdout === "to-file\n", 5000, "the -o file's content");
    h.runner.run(job(73, ["sh", "-c", "sleep 30"], { stdoutPath: join(dir, "peek.other") }));
    await h.started(73);
    // The job's shell creates its -o file just after the start.
    await waitFor(() => existsSync(join(dir, "peek.other")), 5000, "the -o file");
    // Another job's file replaced by a symlink: its content is not shown.
    rmSync(join(dir, "peek.other"));
    symlinkSync("/etc/hostname", join(dir, "peek.other"));
    expect(h.runner.peek({ type: "peek_job", requestId: "r5", jobId: 73 })).toMatchObject({ stdout: "", error: expect.stringMatching(/ELOOP|cannot read/) });
  }, 15_000);

  test("signal_job reaches the group without ending the job", async () => {
    const h = harness();
    const marker = join(dir, "usr1.log");
    h.runner.run(job(74, ["sh", "-c", `trap 'echo usr1 >> ${marker}' USR1; while :; do sleep 0.05; done`]));
    await h.started(74);
    await Bun.sleep(200);
    h.runner.signal({ type: "signal_job", jobId: 74, signal: "SIGUSR1" });
    await waitFor(() => existsSync(marker), 5000, "the trap to run");
    expect(h.runner.counts().running).toBe(1);
  }, 15_000);
});

describe("job runner: running and ending", () => {
  test("captures stdout and stderr; exit 0 ends DONE after a started event with the pid", async () => {
    const h = harness({ wallClock: () => 1_700_000_000_000 });
    h.runner.run(job(1, ["sh", "-c", "echo out; echo err >&2"]));
    const fin = await h.finished(1);
    const started = h.events.find((e) => e.event === "started")!;
    expect(started).toEqual({ type: "job_event", eventId: "boot1-1", jobId: 1, attempt: 1, event: "started", at: 1_700_000_000_000, pid: expect.any(Number) });
    expect(fin).toEqual({
      type: "job_event",
      eventId: "boot1-2",
      jobId: 1,
      attempt: 1,
      event: "finished",
      at: 1_700_000_000_000,
      pid: started.pid,
      startedAt: 1_700_000_000_000,
      state: "DONE",
      exitCode: 0,
      signal: null,
      stdout: "out\n",
      stderr: "err\n",
      stdoutTruncated: false,
      stderrTruncated: false,
      elapsedMs: expect.any(Number),
      cpuUserMs: expect.any(Number),
      cpuSysMs: expect.any(Number),
      maxRssBytes: null,
    });
    for (const e of h.events) expect(v.safeParse(JobEventSchema, e).success).toBe(true);
    expect(h.runner.stats()).toMatchObject({ running: 0, pending: 0, finished: 1, outbox: 2 });
  });

  test("a non-zero exit ends EXIT with the code: false → 1, sh -c 'exit 3' → 3", async () => {
    const h = harness();
    h.runner.run(job(1, ["false"]));
    h.runner.run(job(2, ["sh", "-c", "exit 3"]));
    expect(await h.finished(1)).toMatchObject({ state: "EXIT", exitCode: 1, signal: null, reason: "exit code 1" });
    expect(await h.finished(2)).toMatchObject({ state: "EXIT", exitCode: 3, signal: null, reason: "exit code 3" });
  });

  test("a missing binary ends EXIT 127, a non-executable file EXIT 126, each with a reason naming it and no started event", async () => {
    const h = harness();
    const notExec = join(dir, "not-executable");
    writeFileSync(notExec, "#!/bin/sh\necho never\n");
    chmodSync(notExec, 0o644);
    h.runner.run(job(1, ["lava-no-such-binary-xyz", "arg"]));
    h.runner.run(job(2, [notExec]));
    const missing = await h.finished(1);
    expect(missing).toMatchObject({ state: "EXIT", exitCode: 127, signal: null });
    expect(missing.reason).toContain("lava-no-such-binary-xyz");
    expect(missing.reason).toContain("not found");
    const denied = await h.finished(2);
    expect(denied).toMatchObject({ state: "EXIT", exitCode: 126 });
    expect(denied.reason).toContain(notExec);
    expect(h.events.filter((e) => e.event === "started")).toEqual([]);
    expect(missing.startedAt).toBeUndefined();
  });

  test("runs in msg.cwd; a missing cwd ends EXIT with exitCode null and a reason naming it", async () => {
    const h = harness();
    h.runner.run(job(1, ["pwd"], { cwd: dir }));
    h.runner.run(job(2, ["pwd"], { cwd: join(dir, "no-such-dir") }));
    expect(await h.finished(1)).toMatchObject({ state: "DONE", stdout: `${dir}\n` });
    const fin = await h.finished(2);
    expect(fin).toMatchObject({ state: "EXIT", exitCode: null });
    expect(fin.reason).toBe(`working directory "${join(dir, "no-such-dir")}" does not exist on this host`);
  });

  test("env: msg.env and LAVA_JOB_* reach the job; the agent's own environment (its token) does not", async () => {
    const h = harness({ env: { PATH: process.env.PATH, HOME: "/home/agent", LANG: "C.UTF-8", USER: "lava", LAVA_TOKEN: "agent-secret", LD_PRELOAD: "/x.so" } });
    h.runner.run(job(5, ["env"], { attempt: 2, env: { FOO: "bar baz", HOME: "/home/job" } }));
    const fin = await h.finished(5, 2);
    expect(fin.state).toBe("DONE");
    const env = Object.fromEntries(fin.stdout!.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    expect(env).toEqual({ PATH: process.env.PATH!, HOME: "/home/job", LANG: "C.UTF-8", USER: "lava", LOGNAME: "lava", FOO: "bar baz", LAVA_JOB_ID: "5", LAVA_JOB_ATTEMPT: "2" });
  });

  test("argv is not given to a shell: metacharacters arrive as they are", async () => {
    const h = harness();
    h.runner.run(job(1, ["echo", "$HOME; rm -rf / && `x`"]));
    expect(await h.finished(1)).toMatchObject({ state: "DONE", stdout: "$HOME; rm -rf / && `x`\n" });
  });

  test("a signal not sent by lava ends EXIT with the signal name and exitCode null", async () => {
    const h = harness();
    h.runner.run(job(1, ["sh", "-c", "kill -KILL $$"]));
    const fin = await h.finished(1);
    expect(fin).toMatchObject({ state: "EXIT", exitCode: null, signal: "SIGKILL" });
    expect(fin.reason).toContain("not sent by lava");
  });

  test("what the job leaves in its group when its main process exits is killed", async () => {
    const h = harness();
    h.runner.run(job(1, ["sh", "-c", "sleep 30 & echo bye"]));
    const started = await h.started(1);
    const fin = await h.finished(1);
    expect(fin).toMatchObject({ state: "DONE", stdout: "bye\n" });
    await waitFor(() => groupGone(started.pid!), GROUP_GONE_MS, "the background sleep gone");
  }, 20_000);
});

describe("job runner: records for the keeper", () => {
  test("a job's record names its group at once, gets its start time at the first look, and is blanked when it ends", async () => {
    const recs = mkdtempSync(join(dir, "records-"));
    const h = harness({ recordsDir: recs });
    h.runner.run(job(81, ["sleep", "30"]));
    const pid = (await h.started(81)).pid!;
    // At once, before any look at /proc: the keeper would end this group (records.ts START_UNREAD).
    expect(readRecords(recs)).toEqual([expect.objectContaining({ jobId: 81, pgid: pid, startTime: START_UNREAD })]);
    expect(readdirSync(recs).map((f) => readFileSync(join(recs, f), "utf8").split("\n")[0] ?? "").filter((l) => l.trim())).toEqual([`${pid} - 10000`]);
    const read = await waitFor(() => readRecords(recs).find((r) => r.startTime !== START_UNREAD), FIRST_LOOK_MS + 3000, "the start time in the record");
    expect(read.startTime).toBe(readStartTime(pid)!);
    // A short job that ends before its first look never has its /proc entry read, and its record is blanked.
    h.runner.run(job(82, ["true"]));
    await h.finished(82);
    h.runner.kill({ type: "kill_job", jobId: 81 });
    await h.finished(81);
    expect(readRecords(recs)).toEqual([]);
  });
});

describe("job runner: killing", () => {
  test("a timeout kills the whole process group: KILLED, reason mentions the timeout, nothing of the group is left", async () => {
    const h = harness();
    h.runner.run(job(1, ["sh", "-c", "sleep 30 & sleep 30 & wait"], { timeoutMs: 300 }));
    const pgid = (await h.started(1)).pid!;
    const fin = await h.finished(1, 1, 5000);
    expect(fin).toMatchObject({ state: "KILLED", reason: "timeout after 0.3 s", signal: "SIGTERM", exitCode: null });
    expect(fin.at - fin.startedAt!).toBeLessThan(10_000);
    await waitFor(() => groupGone(pgid), GROUP_GONE_MS, `process group ${pgid} gone`);
  }, 20_000);

  test("kill_job: SIGTERM reaches every process of the group; KILLED with the master's reason", async () => {
    const h = harness();
    h.runner.run(job(1, ["sh", "-c", "sleep 30 & sleep 30 & wait"]));
    const pgid = (await h.started(1)).pid!;
    await waitFor(() => groupMembers(pgid).length === 3, 5000, "sh and its two sleeps");
    h.runner.kill({ type: "kill_job", jobId: 1, reason: "cancelled by alice" });
    const fin = await h.finished(1);
    expect(fin).toMatchObject({ state: "KILLED", reason: "cancelled by alice", signal: "SIGTERM" });
    await waitFor(() => groupGone(pgid), GROUP_GONE_MS, `process group ${pgid} gone`);
  }, 20_000);

  test("kill_job without a reason says 'killed by the master'; for another attempt or an unknown job it is ignored", async () => {
    const h = harness();
    h.runner.run(job(1, ["sleep", "30"]));
    await h.started(1);
    h.runner.kill({ type: "kill_job", jobId: 1, attempt: 2 });
    h.runner.kill({ type: "kill_job", jobId: 99 });
    expect(h.runner.counts()).toEqual({ running: 1, pending: 0 });
    h.runner.kill({ type: "kill_job", jobId: 1, attempt: 1 });
    expect(await h.finished(1)).toMatchObject({ state: "KILLED", reason: "killed by the master" });
    expect(h.events.filter((e) => e.event === "finished")).toHaveLength(1);
  }, 20_000);

  test("a job that ignores SIGTERM is SIGKILLed after killGraceMs", async () => {
    const h = harness();
    h.runner.run(job(1, ["sh", "-c", 'trap "" TERM; sleep 30'], { killGraceMs: 200 }));
    const pgid = (await h.started(1)).pid!;
    await waitFor(() => groupMembers(pgid).length === 2, 5000, "sh and its sleep");
    const t0 = performance.now();
    h.runner.kill({ type: "kill_job", jobId: 1, reason: "stop it" });
    const fin = await h.finished(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    expect(fin).toMatchObject({ state: "KILLED", reason: "stop it", signal: "SIGKILL", exitCode: null });
    await waitFor(() => groupGone(pgid), GROUP_GONE_MS, `process group ${pgid} gone`);
  }, 20_000);

  test("stop() kills the running jobs (KILLED 'agent stopping') and refuses later run_job", async () => {
    const h = harness({ stopGraceMsMax: 200 });
    h.runner.run(job(1, ["sleep", "30"]));
    h.runner.run(job(2, ["sh", "-c", 'trap "" TERM; sleep 30']));
    await h.started(1);
    await h.started(2);
    await h.runner.stop();
    expect(h.events.filter((e) => e.event === "finished").map((e) => [e.jobId, e.state, e.reason])).toEqual(
      expect.arrayContaining([
        [1, "KILLED", "agent stopping"],
        [2, "KILLED", "agent stopping"],
      ]),
    );
    h.runner.run(job(3, ["true"]));
    expect(h.runner.counts()).toEqual({ running: 0, pending: 0 });
    expect(h.events.some((e) => e.jobId === 3)).toBe(false);
  }, 20_000);
});

describe("job runner: output bound", () => {
  test("3,000,000 bytes with a 1 MiB limit: the job is not blocked, stdout is cut and marked truncated, the event fits one message", async () => {
    const h = harness();
    h.runner.run(job(1, ["head", "-c", "3000000", "/dev/zero"], { outputLimitBytes: MIB }));
    const fin = await h.finished(1, 1, 10_000);
    expect(fin).toMatchObject({ state: "DONE", exitCode: 0, stdoutTruncated: true, stderrTruncated: false, stderr: "" });
    expect(fin.stdout!.length).toBeGreaterThan(0);
    expect(fin.stdout!.length).toBeLessThanOrEqual(MIB);
    expect(/^\0+$/.test(fin.stdout!)).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(fin))).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  }, 20_000);

  test("exactly outputLimitBytes is kept of each stream when the event has room", async () => {
    const h = harness();
    h.runner.run(job(1, ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; head -c 300000 /dev/zero | tr '\\0' b >&2"], { outputLimitBytes: 100_000 }));
    const fin = await h.finished(1, 1, 10_000);
    expect(fin).toMatchObject({ state: "DONE", stdoutTruncated: true, stderrTruncated: true });
    expect(fin.stdout).toBe("a".repeat(100_000));
    expect(fin.stderr).toBe("b".repeat(100_000));
  }, 20_000);

  test("output is decoded as UTF-8, invalid bytes replaced", async () => {
    const h = harness();
    h.runner.run(job(1, ["printf", "h\\303\\251 \\377!"]));
    expect((await h.finished(1)).stdout).toBe("hé \uFFFD!");
  });
});

describe("job runner: attempts, outbox, status", () => {
  test("a repeated run_job does not run the attempt twice: not while it runs, not after it finished, not an older attempt", async () => {
    const h = harness();
    const marks = join(dir, "runs-once");
    const argv = ["sh", "-c", `echo x >> ${marks}; sleep 0.2`];
    h.runner.run(job(1, argv, { attempt: 2 }));
    h.runner.run(job(1, argv, { attempt: 2 })); // while running
    await h.finished(1, 2);
    h.runner.run(job(1, argv, { attempt: 2 })); // finished, not acked
    h.runner.ack({ type: "ack", eventIds: h.events.map((e) => e.eventId) });
    h.runner.run(job(1, argv, { attempt: 2 })); // finished and acked
    h.runner.run(job(1, argv, { attempt: 1 })); // older attempt
    expect(h.runner.counts()).toEqual({ running: 0, pending: 0 });
    expect(readFileSync(marks, "utf8")).toBe("x\n");
    expect(h.events.map((e) => e.event)).toEqual(["started", "finished"]);
    expect(h.runner.stats().duplicatesIgnored).toBe(4);
  });

  test("a new attempt kills the older one first (pending meanwhile), then starts", async () => {
    const h = harness();
    h.runner.run(job(1, ["sh", "-c", 'trap "" TERM; sleep 30'], { killGraceMs: 300 }));
    const old = await h.started(1, 1);
    await waitFor(() => groupMembers(old.pid!).length === 2, 5000, "the old attempt running");
    h.runner.run(job(1, ["echo", "second"], { attempt: 2 }));
    expect(h.runner.counts()).toEqual({ running: 1, pending: 1 });
    expect(h.runner.statusMessage().jobs).toEqual([
      { jobId: 1, attempt: 1 },
      { jobId: 1, attempt: 2 },
    ]);
    expect(await h.finished(1, 2)).toMatchObject({ state: "DONE", stdout: "second\n" });
    const order = h.events.map((e) => `${e.event} ${e.attempt}`);
    expect(order).toEqual(["started 1", "finished 1", "started 2", "finished 2"]);
    expect(h.events[1]).toMatchObject({ state: "KILLED", reason: "superseded by attempt 2", signal: "SIGKILL" });
  }, 20_000);

  test("kill_job for a pending attempt ends it KILLED without starting it", async () => {
    const h = harness();
    h.runner.run(job(1, ["sh", "-c", 'trap "" TERM; sleep 30'], { killGraceMs: 300 }));
    await h.started(1, 1);
    h.runner.run(job(1, ["echo", "never"], { attempt: 2 }));
    h.runner.kill({ type: "kill_job", jobId: 1, attempt: 2, reason: "cancelled" });
    expect(await h.finished(1, 2)).toMatchObject({ state: "KILLED", reason: "cancelled", exitCode: null });
    await h.finished(1, 1);
    expect(h.events.some((e) => e.event === "started" && e.attempt === 2)).toBe(false);
  }, 20_000);

  test("events stay in the outbox, in order, until acked; unknown acks are ignored", async () => {
    const h = harness();
    h.runner.run(job(1, ["true"]));
    h.runner.run(job(2, ["true"]));
    await h.finished(1);
    await h.finished(2);
    const all = h.runner.outbox();
    expect(all.map((e) => e.eventId)).toEqual(h.events.map((e) => e.eventId));
    expect(all).toHaveLength(4);
    expect(h.runner.ack({ type: "ack", eventIds: ["boot1-999", all[0]!.eventId] })).toBe(1);
    expect(h.runner.outbox().map((e) => e.eventId)).toEqual(all.slice(1).map((e) => e.eventId));
    expect(h.runner.ack({ type: "ack", eventIds: all.map((e) => e.eventId) })).toBe(3);
    expect(h.runner.stats().outbox).toBe(0);
  });

  test("status lists the running jobs; counts feed jobsRunning", async () => {
    const h = harness();
    h.runner.run(job(3, ["sleep", "30"]));
    h.runner.run(job(4, ["sleep", "30"], { attempt: 2 }));
    await h.started(3);
    await h.started(4, 2);
    expect(h.runner.statusMessage()).toEqual({
      type: "status",
      jobs: [
        { jobId: 3, attempt: 1 },
        { jobId: 4, attempt: 2 },
      ],
    });
    expect(h.runner.counts()).toEqual({ running: 2, pending: 0 });
    h.runner.kill({ type: "kill_job", jobId: 3 });
    await h.finished(3);
    expect(h.runner.statusMessage().jobs).toEqual([{ jobId: 4, attempt: 2 }]);
  }, 20_000);
});

describe("jobs through the agent and a fake master over a WebSocket", () => {
  let procRoot: string;
  const agents: Agent[] = [];
  const masters: FakeMaster[] = [];

  beforeAll(() => {
    procRoot = fakeProcRoot();
  });
  afterAll(() => {
    rmSync(procRoot, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    for (const m of masters.splice(0)) m.stop();
  });

  async function setUp() {
    const m = await new FakeMaster().start();
    masters.push(m);
    const config = v.parse(AgentSchema, { master: m.addr, token: "t", interval: 1, hostname: "job-host", procRoot, stateDir: mkdtempSync(join(procRoot, "state-")), reconnectMin: 0.1, reconnectMax: 0.3 });
    const agent = createAgent(config, { rng: seededRng(7), forgottenGraceMs: 0, jobRunner: { bootId: "b" } });
    agents.push(agent);
    await agent.start();
    await waitFor(() => agent.status().state === "registered", 5000, "registration");
    return { m, agent };
  }

  const ofType = (m: FakeMaster, type: string) => m.fromAgent.filter((x) => x.type === type);
  /** The handshake and job messages, without the health reports that also follow each registration. */
  const JOB_TYPES = new Set(["register", "job_event", "status"]);
  /** Job traffic: the agent's own status changes (degraded here: the fake /proc has no mounts) are not part of it. */
  const isJobMsg = (x: Record<string, unknown>) => JOB_TYPES.has(x.type as string) && (x.type !== "status" || "jobs" in x);

  test("runs a job from run_job, resends unacked events after a reconnect, then status; acked events are not sent again", async () => {
    const { m, agent } = await setUp();
    // The status follows the registration on the wire: it may still be on its way.
    await waitFor(() => ofType(m, "status").some((x) => "jobs" in x), 5000, "the status");
    expect(ofType(m, "status").filter((x) => "jobs" in x)).toEqual([{ type: "status", jobs: [], status: "online" }]);

    m.sendJson({ type: "run_job", jobId: 11, attempt: 1, argv: ["sh", "-c", "echo hello"] });
    m.sendJson({ type: "run_job", jobId: 12, attempt: 1, argv: ["sleep", "30"] });
    const fin = await waitFor(() => ofType(m, "job_event").find((e) => e.jobId === 11 && e.event === "finished"), 5000, "job 11 finished");
    expect(fin).toMatchObject({ state: "DONE", exitCode: 0, stdout: "hello\n" });
    await waitFor(() => ofType(m, "job_event").some((e) => e.jobId === 12 && e.event === "started"), 5000, "job 12 started");
    for (const e of ofType(m, "job_event")) expect(v.safeParse(JobEventSchema, e).success).toBe(true);
    // The load reports count the running job.
    await waitFor(() => m.reports.at(-1)?.report.jobsRunning === 1, 5000, "a report with jobsRunning 1");
    expect(agent.status()).toMatchObject({ jobsRunning: 1, jobsPending: 0, jobsFinished: 1, jobEventsUnacked: 3 });

    // Nothing acked yet: after a reconnect, all three events again, in order, then status with the running job.
    const sent = ofType(m, "job_event").map((e) => e.eventId);
    const mark = m.fromAgent.length;
    m.dropConnections();
    await waitFor(() => agent.status().registrations === 2, 5000, "registered again");
    await waitFor(() => m.fromAgent.slice(mark).some((x) => x.type === "status" && "jobs" in x), 5000, "status after the second registration");
    const after = m.fromAgent.slice(mark).filter((x) => x.type !== "register" && isJobMsg(x));
    expect(after.map((x) => (x.type === "job_event" ? x.eventId : x.type))).toEqual([...sent, "status"]);
    expect(after.at(-1)).toMatchObject({ type: "status", jobs: [{ jobId: 12, attempt: 1 }] });

    // Ack them: the next reconnect sends only status.
    m.sendJson({ type: "ack", eventIds: sent });
    await waitFor(() => agent.status().jobEventsUnacked === 0, 5000, "the outbox empty");
    const mark2 = m.fromAgent.length;
    m.dropConnections();
    await waitFor(() => m.fromAgent.slice(mark2).some((x) => x.type === "status" && "jobs" in x), 5000, "status after the third registration");
    expect(m.fromAgent.slice(mark2).filter(isJobMsg).map((x) => x.type)).toEqual(["register", "status"]);

    // kill_job over the channel; the job keeps its identity across the reconnects.
    m.sendJson({ type: "kill_job", jobId: 12, reason: "cancelled by the test" });
    const killed = await waitFor(() => ofType(m, "job_event").find((e) => e.jobId === 12 && e.event === "finished"), 5000, "job 12 finished");
    expect(killed).toMatchObject({ state: "KILLED", reason: "cancelled by the test" });
    expect(agent.status()).toMatchObject({ jobsRunning: 0, jobsFinished: 2, jobEventsUnacked: 1 });
  }, 30_000);

  test("a job keeps running while the channel is down; its finished event is delivered after the reconnect", async () => {
    const { m, agent } = await setUp();
    m.refuse = true;
    m.sendJson({ type: "run_job", jobId: 21, attempt: 1, argv: ["sh", "-c", "sleep 0.3; echo done"] });
    await waitFor(() => ofType(m, "job_event").some((e) => e.jobId === 21 && e.event === "started"), 5000, "started");
    m.dropConnections();
    await waitFor(() => agent.status().jobsFinished === 1, 5000, "the job finished while disconnected");
    expect(ofType(m, "job_event").some((e) => e.event === "finished")).toBe(false);
    m.refuse = false;
    const fin = await waitFor(() => ofType(m, "job_event").find((e) => e.jobId === 21 && e.event === "finished"), 10_000, "finished delivered");
    expect(fin).toMatchObject({ state: "DONE", stdout: "done\n" });
  }, 30_000);

  test("stopping the agent kills its jobs and reports them KILLED 'agent stopping' before closing", async () => {
    const { m, agent } = await setUp();
    m.sendJson({ type: "run_job", jobId: 31, attempt: 1, argv: ["sleep", "30"] });
    const started = await waitFor(() => ofType(m, "job_event").find((e) => e.jobId === 31 && e.event === "started"), 5000, "started");
    await agent.stop();
    const fin = await waitFor(() => ofType(m, "job_event").find((e) => e.jobId === 31 && e.event === "finished"), 2000, "finished");
    expect(fin).toMatchObject({ state: "KILLED", reason: "agent stopping" });
    await waitFor(() => groupGone(started.pid as number), GROUP_GONE_MS, "the job's group gone");
  }, 30_000);
});
