/**
 * What LSF and Slurm users reach for, end to end with compiled agents
 * (docs/jobs.md): arrays with a running limit, dependencies, live output,
 * accounting, GPUs, labels and host rules, hold/release,
 * begin times, and bad input refused before anything is written.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runLava } from "../helpers/binary.ts";
import { startAgent, tempDir, TestMaster, type Proc } from "../helpers/cluster.ts";
import { jobClient, jobProcs, procWithCpus, type Job } from "../helpers/jobs.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const work = tempDir("lava-ops-");
// Jobs run as nobody: what they write goes where nobody may write.
chmodSync(work, 0o777);
const proc = procWithCpus(join(work, "proc"), 64);
let master: TestMaster;
const jc = jobClient(() => master);
const agents: Proc[] = [];

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  busy: { loadPerCpu: 1000000, cpuPercent: 101, memPercent: 101 }\n  jobs:\n    killGrace: 0.5\n" });
  agents.push(startAgent(master, { hostname: "ops-a", procRoot: proc, args: ["--log-level", "info"] }));
  // Two GPUs and labels on the second host (agent.gpus overrides detection).
  const b = startAgent(master, { hostname: "ops-b", procRoot: proc, args: ["--log-level", "info"], env: { LAVA_GPUS: "2", LAVA_LABELS: "ssd,ib" } });
  agents.push(b);
  await waitFor(async () => (await master.api<{ status: string }[]>("/api/v1/load")).body.filter((h) => h.status === "ok").length === 2, 15_000, "two ok hosts");
}, 30_000);

afterAll(() => teardown({ clients: [...agents], masters: [master], work }));

describe("arrays", () => {
  test("a 1,000-element array with %50 never has more than 50 elements running; it is one id, folded in `ctl jobs`, and `ctl wait` waits for all", async () => {
    const r = await jc.ctl(["submit", "--json", "--array", "1-1000%50", "--name", "sweep", "--", "sh", "-c", "sleep 0.2; echo $LAVA_ARRAY_INDEX"]);
    expect(r.code).toBe(0);
    const sub = JSON.parse(r.stdout) as { id: number; array: boolean; count: number; ids: { first: number; last: number } };
    expect(sub).toMatchObject({ array: true, count: 1000, ids: { first: sub.id + 1, last: sub.id + 1000 } });
    let maxApi = 0;
    let maxProcs = 0;
    let stop = false;
    const watcher = (async () => {
      while (!stop) {
        const a = (await master.api<{ counts: Record<string, number> }>(`/api/v1/jobs/${sub.id}`)).body;
        maxApi = Math.max(maxApi, a.counts.RUN ?? 0);
        maxProcs = Math.max(maxProcs, new Set(jobProcs().filter((p) => p.arrayId === sub.id).map((p) => p.jobId)).size);
        await Bun.sleep(100);
      }
    })();
    const t0 = performance.now();
    const waited = await runLava(["ctl", "wait", String(sub.id)], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken }, timeoutMs: 90_000 });
    console.log(`1,000 elements, 50 at a time, 0.2 s each: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    stop = true;
    await watcher;
    expect(waited.code).toBe(0);
    expect(maxApi).toBeLessThanOrEqual(50);
    expect(maxProcs).toBeLessThanOrEqual(50);
    // The limit was reached, so the check above could have failed.
    expect(maxApi).toBeGreaterThanOrEqual(40);
    const arr = (await master.api<{ state: string; counts: Record<string, number> }>(`/api/v1/jobs/${sub.id}`)).body;
    expect(arr).toMatchObject({ state: "DONE", counts: { DONE: 1000, PEND: 0, RUN: 0 } });
    const el = await jc.job(`${sub.id}[777]`);
    expect(el).toMatchObject({ state: "DONE", arrayIndex: 777, arrayId: sub.id, name: "sweep", stdout: "777\n" });
    const table = (await jc.ctl(["jobs", "--state", "DONE"])).stdout;
    expect(table).toMatch(new RegExp(`${sub.id}\\[1-1000%50\\]\\s+DONE`));
    expect(table).toContain("DONE 1000");
    expect(table.split("\n").filter((l) => l.includes("sweep")).length).toBe(1);
    const elements = JSON.parse((await jc.ctl(["jobs", "--json", "--array", String(sub.id), "--limit", "5000"])).stdout) as Job[];
    expect(elements.length).toBe(1000);
  }, 120_000);

  test("cancel takes the array or one element", async () => {
    const r = await jc.ctl(["submit", "--json", "--array", "1-6%2", "--", "sleep", "30"]);
    const id = (JSON.parse(r.stdout) as { id: number }).id;
    await jc.until(id, (a) => (a.counts as Record<string, number>).RUN === 2);
    expect((await jc.ctl(["cancel", `${id}[6]`])).code).toBe(0);
    expect((await jc.job(`${id}[6]`)).state).toBe("KILLED");
    expect((await jc.ctl(["cancel", String(id)])).code).toBe(0);
    const a = await jc.until(id, (x) => x.state !== "RUN" && x.state !== "PEND");
    expect(a.counts).toMatchObject({ KILLED: 6 });
    await waitFor(() => !jobProcs().some((p) => p.arrayId === id), 5000, "the array's processes to go");
  }, 30_000);
});

describe("dependencies", () => {
  test("a chain of 3 runs in order", async () => {
    const log = join(work, "chain.log");
    const a = await jc.submit(["--", "sh", "-c", `sleep 0.5; echo a >> ${log}`]);
    const b = await jc.submit(["--after-ok", String(a), "--", "sh", "-c", `echo b >> ${log}`]);
    const c = await jc.submit(["--after-ok", String(b), "--", "sh", "-c", `echo c >> ${log}`]);
    const waiting = await jc.until(c, (j) => typeof j.waiting === "string" && j.waiting.includes(`job ${b}`));
    expect(waiting.waiting).toMatch(new RegExp(`waiting for job ${b} \\((PEND|RUN)\\) to end DONE`));
    await jc.until(c, (j) => j.state === "DONE", 20_000);
    expect(readFileSync(log, "utf8")).toBe("a\nb\nc\n");
    const [ja, jb, jcc] = await Promise.all([a, b, c].map((x) => jc.job(x)));
    expect(Date.parse(jb!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(ja!.finishedAt as string));
    expect(Date.parse(jcc!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(jb!.finishedAt as string));
  }, 30_000);

  test("--after-ok on a job that failed ends the dependant KILLED with the reason; --after-not-ok runs", async () => {
    const bad = await jc.submit(["--", "false"]);
    const dep = await jc.submit(["--after-ok", String(bad), "--", "echo", "never"]);
    const alt = await jc.submit(["--after-not-ok", String(bad), "--", "echo", "cleanup"]);
    const d = await jc.until(dep, (j) => j.state === "KILLED", 15_000);
    expect(d.reason).toBe(`dependency never satisfied: --after-ok ${bad}, and job ${bad} ended EXIT`);
    expect(d.attempts).toBe(0);
    expect((await jc.until(alt, (j) => j.state === "DONE")).stdout).toBe("cleanup\n");
  }, 30_000);
});

describe("output and accounting", () => {
  test("peek shows output while the job runs; job --follow streams it to the end", async () => {
    const id = await jc.submit(["--", "sh", "-c", "echo first; echo oops >&2; sleep 30"]);
    await jc.until(id, (j) => j.state === "RUN");
    const peeked = await waitFor(async () => {
      const r = await jc.ctl(["peek", String(id)]);
      return r.code === 0 && r.stdout === "first\n" ? r : null;
    }, 10_000, "peek to show the first line");
    expect(peeked.stderr).toContain("oops");
    expect((await jc.job(id)).state).toBe("RUN");
    expect((await jc.ctl(["cancel", String(id)])).code).toBe(0);

    const f = await jc.submit(["--", "sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"]);
    const followed = await jc.ctl(["job", String(f), "--follow"]);
    expect(followed.code).toBe(0);
    expect(followed.stdout).toContain("line 1\nline 2\nline 3\n");
    expect(followed.stdout).toMatch(/ended DONE/);
  }, 30_000);

  test("-o and -e write to files on the host (opened by the job's user), with %j and %a", async () => {
    const r = await jc.ctl(["submit", "--json", "--array", "1-2", "-o", join(work, "out.%j.%a"), "-e", join(work, "err.%j.%a"), "--", "sh", "-c", "echo o$LAVA_ARRAY_INDEX; echo e$LAVA_ARRAY_INDEX >&2"]);
    const id = (JSON.parse(r.stdout) as { id: number }).id;
    expect((await jc.ctl(["wait", String(id)])).code).toBe(0);
    expect(readFileSync(join(work, `out.${id}.2`), "utf8")).toBe("o2\n");
    expect(readFileSync(join(work, `err.${id}.1`), "utf8")).toBe("e1\n");
    expect((await jc.job(`${id}[1]`)).stdout).toBe("");
  }, 30_000);

  test("a CPU-burning job's attempt records elapsed, user CPU and max RSS; acct sums them by user and queue", async () => {
    const id = await jc.submit(["--", "sh", "-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done"]);
    const j = await jc.until(id, (x) => x.state === "DONE", 30_000);
    const a = (j.attemptRecords as Record<string, number>[])[0]!;
    expect(a.elapsedMs).toBeGreaterThan(0);
    expect(a.cpuUserMs).toBeGreaterThan(0);
    expect(a.maxRssBytes).toBeGreaterThan(0);
    expect(j).toMatchObject({ elapsedMs: a.elapsedMs, cpuUserMs: a.cpuUserMs, maxRssBytes: a.maxRssBytes });
    const acct = JSON.parse((await jc.ctl(["acct", "--json", "--user", "admin"])).stdout) as { rows: { user: string; queue: string; cpuUserMs: number; done: number }[] };
    const row = acct.rows.find((r) => r.queue === "default")!;
    expect(row.user).toBe("admin");
    expect(row.cpuUserMs).toBeGreaterThanOrEqual(a.cpuUserMs!);
    expect((await jc.ctl(["acct"])).stdout).toMatch(/^USER\s+QUEUE\s+JOBS/m);
  }, 40_000);
});

// Who a job runs as and who sees its environment and output: tests/security/jobs.test.ts.

describe("where and when", () => {
  test("--hosts, --exclude and --exclusive", async () => {
    const on = await jc.until(await jc.submit(["--hosts", "ops-b", "--", "true"]), (j) => j.state === "DONE");
    expect(on.host).toBe("ops-b");
    const off = await jc.until(await jc.submit(["--exclude", "ops-b", "--", "true"]), (j) => j.state === "DONE");
    expect(off.host).toBe("ops-a");
    const busy = await jc.submit(["--hosts", "ops-a", "--", "sleep", "30"]);
    await jc.until(busy, (j) => j.state === "RUN");
    const excl = await jc.submit(["--hosts", "ops-a", "--exclusive", "--", "true"]);
    const w = await jc.until(excl, (j) => typeof j.waiting === "string" && j.waiting.includes("whole host"));
    expect(w.state).toBe("PEND");
    await jc.ctl(["cancel", String(busy)]);
    expect((await jc.until(excl, (j) => j.state === "DONE")).host).toBe("ops-a");
  }, 30_000);

  test("--constraint picks hosts by label; GPUs: each job its own devices, none shared", async () => {
    const labelled = await jc.until(await jc.submit(["--constraint", "ssd", "--", "true"]), (j) => j.state === "DONE");
    expect(labelled.host).toBe("ops-b");
    const hosts = (await master.api<{ host: string; gpus: number; labels: string[] }[]>("/api/v1/hosts")).body;
    expect(hosts.find((h) => h.host === "ops-b")).toMatchObject({ gpus: 2, labels: ["ssd", "ib"] });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push(await jc.submit(["--gpus", "1", "--", "sh", "-c", 'echo "[$CUDA_VISIBLE_DEVICES]"; sleep 1']));
    const outs = await Promise.all(ids.map((id) => jc.until(id, (j) => j.state === "DONE", 15_000)));
    for (const o of outs) expect({ id: o.id, host: o.host }).toEqual({ id: o.id, host: "ops-b" });
    const devices = outs.map((o) => o.stdout!.trim());
    expect(devices.every((d) => d === "[0]" || d === "[1]")).toBe(true);
    // Two GPUs, three jobs: two ran at once, and any two that overlapped had different devices.
    const span = (o: (typeof outs)[number]) => [Date.parse(o.startedAt!), Date.parse(o.finishedAt as string)] as const;
    let overlaps = 0;
    for (let i = 0; i < 3; i++) {
      for (let k = i + 1; k < 3; k++) {
        const [a0, a1] = span(outs[i]!);
        const [b0, b1] = span(outs[k]!);
        if (a0 < b1 && b0 < a1) {
          overlaps++;
          expect(devices[i]).not.toBe(devices[k]);
        }
      }
    }
    expect(overlaps).toBeGreaterThanOrEqual(1);
    expect(overlaps).toBeLessThanOrEqual(2);
    const cpuOnly = await jc.until(await jc.submit(["--hosts", "ops-b", "--", "sh", "-c", 'echo "[${CUDA_VISIBLE_DEVICES-unset}]"']), (j) => j.state === "DONE");
    expect(cpuOnly.stdout).toBe("[]\n");
  }, 30_000);

  test("an agent on a master's host takes no jobs unless agent.jobs.onMaster, and the host says so", async () => {
    const m = startAgent(master, { hostname: "ops-m", procRoot: proc, args: ["--log-level", "info"], env: { LAVA_JOBS_ON_MASTER: "false" } });
    agents.push(m);
    const h = await waitFor(async () => (await master.api<{ host: string; status: string; onMaster: boolean; takesJobs: boolean }[]>("/api/v1/hosts")).body.find((x) => x.host === "ops-m" && x.status === "ok"), 15_000, "ops-m ok");
    expect(h).toMatchObject({ onMaster: true, takesJobs: false });
    await waitFor(() => m.text.includes("a lava master runs on this host: it takes no jobs"), 5000, "the start-up warning");
    const id = await jc.submit(["--hosts", "ops-m", "--", "true"]);
    const j = await jc.until(id, (x) => typeof x.waiting === "string" && x.waiting.includes("ops-m"));
    expect(j.waiting).toMatch(/ops-m master host \(agent\.jobs\.onMaster is off\)/);
    await jc.ctl(["cancel", String(id)]);
    await m.stop();
  }, 30_000);

  test("hold and release; --begin", async () => {
    const held = await jc.submit(["--hold", "--", "true"]);
    expect((await jc.until(held, (j) => typeof j.waiting === "string")).waiting).toMatch(/^held by admin/);
    expect((await jc.ctl(["release", String(held)])).code).toBe(0);
    await jc.until(held, (j) => j.state === "DONE");
    const t0 = Date.now();
    const later = await jc.submit(["--begin", "+2s", "--", "true"]);
    expect((await jc.until(later, (j) => typeof j.waiting === "string")).waiting).toMatch(/^begins at /);
    const done = await jc.until(later, (j) => j.state === "DONE", 15_000);
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(t0 + 1500);
  }, 30_000);

  test("cancel --user --state PEND leaves running jobs alone; --signal reaches the job's processes", async () => {
    const log = join(work, "sig.log");
    const run = await jc.submit(["--", "sh", "-c", `trap 'echo usr1 >> ${log}' USR1; while :; do sleep 0.1; done`]);
    await jc.until(run, (j) => j.state === "RUN");
    const pend = await jc.submit(["--hold", "--", "true"]);
    const r = await jc.ctl(["cancel", "--user", "admin", "--state", "PEND"]);
    expect(r.code).toBe(0);
    expect((await jc.job(pend)).state).toBe("KILLED");
    expect((await jc.job(run)).state).toBe("RUN");
    await Bun.sleep(300);
    expect((await jc.ctl(["cancel", "--signal", "USR1", String(run)])).code).toBe(0);
    await waitFor(() => {
      try {
        return readFileSync(log, "utf8").includes("usr1");
      } catch {
        return false;
      }
    }, 5000, "the trap to run");
    expect((await jc.job(run)).state).toBe("RUN");
    await jc.ctl(["cancel", String(run)]);
  }, 30_000);
});

describe("bad input: refused at submit, nothing half-created", () => {
  test("exit 2 (or 400) with the reason; the job count does not move", async () => {
    const count = async () => Object.values((await master.api<{ jobs: Record<string, number> }>("/api/v1/status")).body.jobs).reduce((a, b) => a + b, 0);
    const before = await count();
    const cases: [string[], RegExp][] = [
      [["--array", "10-1"], /below the first/],
      [["--after-ok", "999999"], /there is no job 999999/],
      [["--begin", "2001-01-01T00:00"], /in the past/],
      [["--constraint", "no-such-label"], /no registered host has that label/],
      [["--gpus", "64"], /64 gpus/],
      [["--hosts", "no-such-host"], /no registered host has that name/],
      [["-o", "/tmp/out.%q"], /unknown pattern %q/],
    ];
    for (const [flags, why] of cases) {
      const r = await jc.ctl(["submit", ...flags, "--", "true"]);
      expect({ flags, code: r.code }).toEqual({ flags, code: 2 });
      expect(r.stderr).toMatch(why);
    }
    // NUL bytes: tests/security/jobs.test.ts.
    expect(await count()).toBe(before);
    expect((await jc.ctl(["jobs", "--host", "no-such-host"])).code).toBe(1);
  }, 30_000);

  test("submit --timeout still works, with a note that it is now --time-limit", async () => {
    const r = await jc.ctl(["submit", "--timeout", "1", "--", "sleep", "10"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/--timeout is deprecated.*--time-limit/);
    const j = await jc.until(Number(r.stdout), (x) => x.state === "KILLED", 15_000);
    expect(j.reason).toMatch(/timeout/);
  }, 20_000);
});
