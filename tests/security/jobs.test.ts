/**
 * Jobs as an attacker with an admin (or read) token would try them
 * (issue 11 item 8 and its "Also" items), against the compiled master and
 * agent: a job is not a root shell on every host, an agent's job allowlist
 * holds, NUL bytes never reach a host, and a read token does not see
 * secrets in a job's environment or another subject's output.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startAgent, tempDir, TestMaster, type Proc } from "../helpers/cluster.ts";
import { jobClient, procWithCpus, type Job } from "../helpers/jobs.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const work = tempDir("lava-sec-jobs-");
chmodSync(work, 0o755);
let master: TestMaster;
const jc = jobClient(() => master);
const agents: Proc[] = [];

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  busy: { loadPerCpu: 1000000, cpuPercent: 101, memPercent: 101 }\n" });
  const proc = procWithCpus(join(work, "proc"), 8);
  // One host with the defaults (jobs as nobody, any command), one that maps the subject "ops" to root
  // without allowRoot and allows only some commands.
  const strict = join(work, "strict.yaml");
  writeFileSync(strict, ["agent:", "  jobs:", "    users: { ops: root }", '    allow: [/usr/bin/id, [/bin/echo, "hi|bye"]]', ""].join("\n"));
  agents.push(startAgent(master, { hostname: "sec-open", procRoot: proc }));
  agents.push(startAgent(master, { hostname: "sec-strict", procRoot: proc, args: ["--config", strict] }));
  await waitFor(async () => (await master.api<{ status: string }[]>("/api/v1/load")).body.filter((h) => h.status === "ok").length === 2, 20_000, "two ok hosts");
}, 30_000);

afterAll(() => teardown({ clients: [...agents], masters: [master], work }));

const ended = (j: Job) => !["PEND", "RUN"].includes(j.state);

describe("who a job runs as", () => {
  test("an admin token is not a root shell: jobs run as nobody, with HOME, USER and LOGNAME of nobody and its home (or /) as the working directory", async () => {
    const id = await jc.submit(["--hosts", "sec-open", "--", "sh", "-c", 'echo "$(id -u) $USER $LOGNAME $HOME $(pwd)"']);
    const j = await jc.until(id, (x) => x.state === "DONE");
    expect(j.stdout).toBe("65534 nobody nobody /nonexistent /\n");
  }, 20_000);

  test("a subject mapped to root is refused without agent.jobs.allowRoot, naming the key; nothing runs as root", async () => {
    const ops = (await jc.ctl(["token", "create", "--role", "admin", "--subject", "ops"])).stdout.trim();
    const r = await jc.ctl(["submit", "--hosts", "sec-strict", "--", "/usr/bin/id", "-u"], { LAVA_TOKEN: ops });
    expect(r.code).toBe(0);
    const j = await jc.until(Number(r.stdout), ended);
    expect(j.state).not.toBe("DONE");
    expect(`${j.reason} ${JSON.stringify(j.history)}`).toContain("agent.jobs.allowRoot");
    expect(j.stdout ?? "").not.toContain("0\n");
  }, 20_000);
});

describe("agent.jobs.allow", () => {
  test("a command the host's job allowlist does not name is refused, naming the list; an allowed one runs", async () => {
    const sh = await jc.until(await jc.submit(["--hosts", "sec-strict", "--", "/bin/sh", "-c", "touch /tmp/lava-sec-should-not-exist"]), ended);
    expect(sh.state).not.toBe("DONE");
    expect(`${sh.reason} ${JSON.stringify(sh.history)}`).toContain("agent.jobs.allow");
    const ok = await jc.until(await jc.submit(["--hosts", "sec-strict", "--", "/bin/echo", "hi"]), ended);
    expect(ok).toMatchObject({ state: "DONE", stdout: "hi\n" });
  }, 20_000);

  test("an allowed command with arguments its entry does not allow is refused, naming the closest entry", async () => {
    const j = await jc.until(await jc.submit(["--hosts", "sec-strict", "--", "/bin/echo", "rm -rf /"]), ended);
    expect(j.state).not.toBe("DONE");
    expect(`${j.reason} ${JSON.stringify(j.history)}`).toContain("does not match");
  }, 20_000);
});

describe("what reaches a host, and who sees what", () => {
  test("NUL bytes in argv, cwd or env are refused at submit with 400; nothing is created", async () => {
    const count = async () => Object.values((await master.api<{ jobs: Record<string, number> }>("/api/v1/status")).body.jobs).reduce((a, b) => a + b, 0);
    const before = await count();
    for (const body of [{ argv: ["a\0b"] }, { argv: ["true"], cwd: "/tmp\0x" }, { argv: ["true"], env: { A: "x\0y" } }]) {
      const res = await master.api<{ error: string; detail: string }>("/api/v1/jobs", { method: "POST", body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      expect(res.body.detail).toMatch(/NUL/);
    }
    expect(await count()).toBe(before);
  });

  test("a read token sees env names only, and no output unless it is the submitter's", async () => {
    const id = await jc.submit(["--hosts", "sec-open", "--env", "SECRET=hunter2", "--", "echo", "private"]);
    await jc.until(id, (x) => x.state === "DONE");
    const reader = (await jc.ctl(["token", "create", "--role", "read", "--subject", "auditor"])).stdout.trim();
    const seen = (await master.api<Job>(`/api/v1/jobs/${id}`, { token: reader })).body;
    expect(seen.env).toEqual({ SECRET: null });
    expect(seen.stdout).toBeNull();
    expect(JSON.stringify(seen)).not.toContain("hunter2");
    expect(JSON.stringify((await master.api(`/api/v1/jobs?state=DONE`, { token: reader })).body)).not.toContain("hunter2");
    expect((await master.api(`/api/v1/jobs/${id}/output`, { token: reader })).status).toBe(403);
    const own = (await jc.ctl(["token", "create", "--role", "read", "--subject", "admin"])).stdout.trim();
    expect((await master.api<Job>(`/api/v1/jobs/${id}`, { token: own })).body.stdout).toBe("private\n");
  }, 20_000);
});
