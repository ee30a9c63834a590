/**
 * Remote execution, health, alerts and logs end to end: the compiled master,
 * several compiled agents (`--hostname`) with their own /proc fixtures, and
 * `lava ctl` as a user runs it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLava, ensureBinary, cleanEnv } from "../helpers/binary.ts";
import { Proc, startAgent, tempDir, TestMaster, writeProcFixture } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const HOSTS = ["ex1", "ex2", "ex3"];
const OUTPUT_LIMIT = 1000;
let master: TestMaster;
const work = tempDir("lava-exec-");
const agents: Proc[] = [];
const logFile = join(work, "logs", "app.log");
let agentConfig: string;

type Row = Record<string, unknown>;
const env = () => ({ LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken });
const ctl = (args: string[], timeoutMs = 30_000) => runLava(["ctl", ...args], { env: env(), timeoutMs });
const fixture = (host: string) => join(work, `proc-${host}`);

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n" });
  mkdirSync(join(work, "logs"));
  writeFileSync(logFile, "old 1\nold 2\nold 3\n");
  agentConfig = join(work, "agent.yaml");
  writeFileSync(
    agentConfig,
    [
      "agent:",
      "  exec:",
      "    allow: [/bin/echo, /bin/sh, /bin/sleep]",
      `    outputLimit: ${OUTPUT_LIMIT}`,
      "  logs:",
      `    allow: [${join(work, "logs")}/]`,
      "  health:",
      "    interval: 1",
      "  alerts:",
      "    interval: 0.1",
      "    rules:",
      "      - { name: load-high, metric: load1, op: '>', threshold: 3, clear: 2, for: 0, severity: warning }",
      "",
    ].join("\n"),
  );
  for (const h of HOSTS) {
    writeProcFixture(fixture(h), { load: [0.5, 0.5, 0.5] });
    agents.push(startAgent(master, { hostname: h, procRoot: fixture(h), args: ["--config", agentConfig] }));
  }
  await waitFor(async () => {
    const hosts = (await master.api<Row[]>("/api/v1/hosts")).body;
    return HOSTS.every((h) => hosts.some((x) => x.host === h && x.connected === true));
  }, 20_000, "three agents connected");
}, 40_000);

afterAll(() => teardown({ clients: [...agents], masters: [master], work }));

describe("exec with real agents", () => {
  test("broadcast: every host's output, prefixed; exit 0; --json has one object per host", async () => {
    const r = await ctl(["exec", "--all", "--", "/bin/echo", "hello", "world"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n").sort()).toEqual(HOSTS.map((h) => `${h}: hello world`));
    expect(r.stderr).toContain("lava: exec on 3 hosts: 3 ok");
    const j = await ctl(["exec", "--hosts", "ex2,ex1", "--json", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 0"]);
    expect(j.code).toBe(0);
    const rows = JSON.parse(j.stdout) as Row[];
    expect(rows.map((x) => x.host)).toEqual(["ex1", "ex2"]);
    for (const x of rows) expect(x).toMatchObject({ status: "ok", exitCode: 0, signal: null, stdout: "out\n", stderr: "err\n", stdoutTruncated: false, stderrTruncated: false, error: null });
    expect(typeof rows[0]!.durationMs).toBe("number");
  }, 30_000);

  test("the agent's allowlist refuses what it does not name; the refusal is audited", async () => {
    const r = await ctl(["exec", "--hosts", "ex1", "--", "/bin/ls", "/"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ex1: refused: .*agent\.exec\.allow/);
    const row = await waitFor(async () => (await master.api<Row[]>("/api/v1/audit?action=exec.result")).body.find((x) => x.target === "ex1" && String(x.result).startsWith("refused")), 5000, "refusal audit row");
    expect(String(row.result)).toContain("agent.exec.allow");
    const req = (await master.api<Row[]>("/api/v1/audit?action=exec.request")).body.at(-1)!;
    expect(JSON.parse(String(req.detail))).toEqual({ argv: ["/bin/ls", "/"], timeoutSec: 60 });
  }, 20_000);

  test("a timeout kills the whole process group: status timeout, no process left behind", async () => {
    const marker = `lava-orphan-${process.pid}`;
    const leftovers = () =>
      readdirSync("/proc").filter((p) => {
        if (!/^\d+$/.test(p)) return false;
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
          return cmd.includes("sleep\u00003117") || cmd.includes("sleep\u00003118") || cmd.includes(marker);
        } catch {
          return false;
        }
      });
    const t0 = performance.now();
    const running = ctl(["exec", "--hosts", "ex3", "--timeout", "2", "--json", "--", "/bin/sh", "-c", "sleep 3117 & sleep 3118; echo never", marker]);
    // While it runs, the shell and both sleeps are there to be found (so the check below can fail).
    await waitFor(() => leftovers().length >= 3, 5000, "sh and both sleeps running");
    const r = await running;
    expect(r.code).toBe(1);
    const [row] = JSON.parse(r.stdout) as Row[];
    expect(row).toMatchObject({ host: "ex3", status: "timeout" });
    expect(performance.now() - t0).toBeLessThan(10_000);
    await waitFor(() => leftovers().length === 0, 5000, "no sleep 3117/3118 left in /proc");
  }, 20_000);

  test("output past agent.exec.outputLimit is cut and marked truncated", async () => {
    const r = await ctl(["exec", "--hosts", "ex1", "--json", "--", "/bin/sh", "-c", "i=0; while [ $i -lt 200 ]; do echo 0123456789abcdefghij; i=$((i+1)); done"]);
    const [row] = JSON.parse(r.stdout) as Row[];
    expect(row).toMatchObject({ status: "ok", exitCode: 0, stdoutTruncated: true });
    expect((row!.stdout as string).length).toBe(OUTPUT_LIMIT);
  }, 20_000);
});

describe("health, alerts and logs with real agents", () => {
  test("health: each agent reports; --refresh asks one now", async () => {
    const rows = await waitFor(async () => {
      const list = (await master.api<Row[]>("/api/v1/health")).body;
      return HOSTS.every((h) => list.some((x) => x.host === h && x.at !== null)) ? list : null;
    }, 15_000, "health from every agent");
    expect(rows.find((x) => x.host === "ex1")!.checks).toBeObject();
    const r = await ctl(["health", "ex2", "--refresh", "--json"]);
    expect(r.code).toBe(0);
    const one = JSON.parse(r.stdout) as Row;
    expect(one.host).toBe("ex2");
    expect(Date.now() - Date.parse(String(one.at))).toBeLessThan(10_000);
  }, 30_000);

  test("an alert rule fires and resolves (load1 from the fixture); ctl alerts shows it; /metrics counts it", async () => {
    writeProcFixture(fixture("ex2"), { load: [5, 1, 1] });
    const firing = await waitFor(async () => (await master.api<Row[]>("/api/v1/alerts")).body.find((a) => a.host === "ex2"), 15_000, "load-high firing on ex2");
    expect(firing).toMatchObject({ rule: "load-high", severity: "warning", state: "firing", value: 5 });
    const r = await ctl(["alerts"]);
    expect(r.stdout).toMatch(/warning\s+ex2\s+\S*load-high\S*\s+firing\s+5/);
    expect((await master.api<string>("/metrics")).body).toContain('lava_alerts_active{severity="warning"} 1');
    const check = await ctl(["check"]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^LAVA WARNING - 1 warning alert \(ex2 .*load-high.*\) \| hosts=3;;;0 .* alerts_warning=1;0;;0 /);
    writeProcFixture(fixture("ex2"), { load: [0.5, 0.5, 0.5] });
    await waitFor(async () => (await master.api<Row[]>("/api/v1/alerts")).body.length === 0, 15_000, "load-high resolved");
    const all = JSON.parse((await ctl(["alerts", "--all", "--json"])).stdout) as Row[];
    expect(all.find((a) => a.host === "ex2")).toMatchObject({ state: "resolved" });
    const ok = await ctl(["check", "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ state: "OK", code: 0, perf: { hosts: 3, unavail: 0, masters_up: "1/1" } });
    const none = await runLava(["ctl", "check", "--master", "127.0.0.1:1"], { env: { LAVA_TOKEN: master.adminToken } });
    expect(none.code).toBe(3);
    expect(none.stdout).toStartWith("LAVA UNKNOWN - no master answers /healthz (tried 127.0.0.1:1)");
  }, 40_000);

  test("ctl logs prints the last lines; -f follows new ones until interrupted, then the stream is stopped", async () => {
    const tail = await ctl(["logs", "ex1", logFile, "-n", "2"]);
    expect(tail.code).toBe(0);
    expect(tail.stdout).toBe("old 2\nold 3\n");
    const refused = await ctl(["logs", "ex1", "/etc/passwd"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("ex1:");
    const follower = Bun.spawn([ensureBinary(), "ctl", "logs", "ex1", logFile, "-f", "-n", "1"], { env: { ...cleanEnv(), ...env() }, stdout: "pipe", stderr: "pipe" });
    const f = new Proc(follower as never);
    await waitFor(() => f.text.includes("old 3\n"), 10_000, "the last old line");
    appendFileSync(logFile, "new 1\nnew 2\n");
    await waitFor(() => f.text.includes("new 1\nnew 2\n"), 10_000, "followed lines");
    const pending = async () => Number(/lava_agent_requests_pending (\d+)/.exec((await master.api<string>("/metrics")).body)![1]);
    expect(await pending()).toBeGreaterThan(0);
    follower.kill("SIGINT");
    await follower.exited;
    await waitFor(async () => (await pending()) === 0, 10_000, "the log stream closed on the master");
    const audit = (await master.api<Row[]>("/api/v1/audit?action=logs.stream")).body;
    expect(audit.some((a) => a.target === "ex1" && a.result === "started" && JSON.parse(String(a.detail)).follow === true)).toBe(true);
    expect(audit.some((a) => a.target === "ex1" && String(a.result).startsWith("refused: 409"))).toBe(true);
  }, 40_000);

  test("an agent killed mid-request: the caller gets that host's error at once, not a hang until the timeout", async () => {
    const victim = startAgent(master, { hostname: "ex-dies", procRoot: fixture("ex1"), args: ["--config", agentConfig] });
    await waitFor(async () => (await master.api<Row[]>("/api/v1/hosts")).body.some((x) => x.host === "ex-dies" && x.connected === true), 20_000, "ex-dies connected");
    const started = performance.now();
    const call = runLava(["ctl", "exec", "--hosts", "ex-dies", "--timeout", "60", "--json", "--", "/bin/sleep", "45"], { env: env(), timeoutMs: 60_000 });
    // The command runs on the agent: a sleep whose parent is the agent.
    const sleeper = await waitFor(
      () =>
        readdirSync("/proc")
          .filter((p) => /^\d+$/.test(p))
          .find((p) => {
            try {
              const stat = readFileSync(`/proc/${p}/stat`, "utf8");
              return readFileSync(`/proc/${p}/cmdline`, "utf8") === "/bin/sleep\u000045\u0000" && stat.split(") ")[1]!.split(" ")[1] === String(victim.proc.pid);
            } catch {
              return false;
            }
          }),
      10_000,
      "the command running on the agent",
    );
    await victim.kill9();
    const r = await call;
    const elapsedMs = performance.now() - started;
    try {
      process.kill(Number(sleeper), "SIGKILL"); // the agent died before it could kill its command
    } catch {
      /* already gone */
    }
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.stdout) as Row[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ host: "ex-dies", status: "error" });
    expect(String(rows[0]!.error)).toMatch(/disconnect/);
    expect(elapsedMs).toBeLessThan(30_000);
  }, 60_000);
});
