/**
 * /metrics: the names and conventions (docs/api.md "Metrics"), unit-tested on
 * renderMetrics, and a real master's whole exposition checked by
 * `promtool check metrics` (Debian package `prometheus`; .ci/run installs it).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderMetrics, type MetricsInput } from "../../src/master/http/metrics.ts";
import type { HostEntry } from "../../src/master/hosts/table.ts";
import { emptyDropCounts } from "../../src/master/ingest.ts";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const NOW = 1_000_000;
const report = { load1: 0.5, load5: 0.25, load15: 0.125, memUsed: 2e9, memFree: 6e9, swapUsed: 0, swapFree: 1e9, ncpus: 4, cpuUser: 12.3, cpuSys: 4.5, cpuIdle: 83.2, jobsRunning: 1, jobsPending: 0, procsTotal: 300, flags: 0 };

function host(hostId: number, hostname: string, o: Partial<HostEntry> = {}): HostEntry {
  return {
    hostId,
    hostname,
    hardware: { ncpus: 4, memBytes: 8e9, gpus: 0 },
    version: "0.1.0",
    registeredAtMs: 0,
    reportIp: "127.0.0.1",
    reportPort: 40000 + hostId,
    session: null,
    connected: true,
    disconnectedAtMs: 0,
    report,
    lastReportMs: NOW - 1000,
    lostTotal: 0,
    receivedTotal: 10,
    drained: false,
    ...o,
  } as HostEntry;
}

function input(hosts: HostEntry[]): MetricsInput {
  return {
    nowMs: NOW,
    policy: { reportIntervalMs: 4000, busy: { loadPerCpu: 1.5, cpuPercent: 95, memPercent: 95 } },
    hosts,
    ingest: { accepted: 5, dropped: emptyDropCounts() },
    sessions: 1,
    kernel: null,
    uptimeMs: 60_000,
    jobs: { PEND: 1, RUN: 0, DONE: 2, EXIT: 0, KILLED: 0, LOST: 0 },
    jobCounters: { submitted: 3, finished: { DONE: 2, EXIT: 0, KILLED: 0, LOST: 0 } },
    udpErrors: 0,
    build: { version: "1.2.3", commit: 'abc"def' },
    process: { startTimeSeconds: 1_700_000_000.5, cpuSecondsTotal: 1.25, residentMemoryBytes: 50e6, virtualMemoryBytes: 1e9, openFds: 12, maxFds: 1024 },
  };
}

/** Samples by name: [labels text, value]. */
function samples(text: string, name: string): [string, number][] {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .map((l) => {
      const sp = l.lastIndexOf(" ");
      return [l.slice(name.length, sp), Number(l.slice(sp + 1))];
    });
}

describe("renderMetrics", () => {
  const text = renderMetrics(input([host(1, "n1"), host(2, "n2", { drained: true }), host(3, "n3", { report: null })]));

  test("lava_host_up{host} is 0/1 and one lava_host_state{host,state} series per state, exactly one of them 1", () => {
    expect(samples(text, "lava_host_up")).toEqual([['{host="n1"}', 1], ['{host="n2"}', 1], ['{host="n3"}', 0]]);
    const states = samples(text, "lava_host_state");
    expect(states).toHaveLength(15);
    for (const h of ["n1", "n2", "n3"]) {
      const mine = states.filter(([l]) => l.startsWith(`{host="${h}",`));
      expect(mine.map(([l]) => /state="(\w+)"/.exec(l)![1])).toEqual(["ok", "busy", "drained", "unavail", "unreach"]);
      expect(mine.filter(([, v]) => v === 1)).toHaveLength(1);
    }
    expect(states.filter(([, v]) => v === 1).map(([l]) => l)).toEqual(['{host="n1",state="ok"}', '{host="n2",state="drained"}', '{host="n3",state="unavail"}']);
    // No state label on lava_host_up: a state change must not start a new series.
    expect(text).not.toMatch(/lava_host_up\{[^}]*state=/);
  });

  test("build info, the standard process metrics, and job counters", () => {
    expect(samples(text, "lava_build_info")).toEqual([['{version="1.2.3",commit="abc\\"def"}', 1]]);
    expect(samples(text, "process_start_time_seconds")).toEqual([["", 1_700_000_000.5]]);
    expect(samples(text, "process_cpu_seconds_total")).toEqual([["", 1.25]]);
    expect(samples(text, "process_resident_memory_bytes")).toEqual([["", 50e6]]);
    expect(samples(text, "process_open_fds")).toEqual([["", 12]]);
    expect(samples(text, "process_max_fds")).toEqual([["", 1024]]);
    expect(samples(text, "lava_jobs_submitted_total")).toEqual([["", 3]]);
    expect(samples(text, "lava_jobs_finished_total")).toEqual([['{state="DONE"}', 2], ['{state="EXIT"}', 0], ['{state="KILLED"}', 0], ['{state="LOST"}', 0]]);
  });

  test("the load history's counters when it is on (lava_history_*_total), none when it is off", () => {
    const on = renderMetrics({ ...input([]), history: { refused: 2, hostsNotKept: 0, writeErrors: 1, flushes: 60, writes: 180 } });
    expect(samples(on, "lava_history_samples_refused_total")).toEqual([["", 2]]);
    expect(samples(on, "lava_history_hosts_not_kept_total")).toEqual([["", 0]]);
    expect(samples(on, "lava_history_write_errors_total")).toEqual([["", 1]]);
    expect(samples(on, "lava_history_flushes_total")).toEqual([["", 60]]);
    expect(samples(on, "lava_history_writes_total")).toEqual([["", 180]]);
    expect(on).toContain("# TYPE lava_history_flushes_total counter");
    expect(text).not.toContain("lava_history_");
  });

  test("cpu as ratios 0-1 (the reports' percents / 100); no percent-named metrics left", () => {
    expect(samples(text, "lava_host_cpu_user_ratio")[0]).toEqual(['{host="n1"}', 0.123]);
    expect(samples(text, "lava_host_cpu_sys_ratio")[0]).toEqual(['{host="n1"}', 0.045]);
    expect(samples(text, "lava_host_cpu_idle_ratio")[0]).toEqual(['{host="n1"}', 0.832]);
    expect(text).not.toContain("_percent");
  });

  test("every family has HELP and TYPE once; counters end in _total and gauges do not", () => {
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    const names = types.map(([n]) => n);
    expect(new Set(names).size).toBe(names.length);
    expect([...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1])).toEqual(names);
    for (const [name, type] of types) expect(name.endsWith("_total")).toBe(type === "counter");
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
      const name = /^[a-z_:][a-z0-9_:]*/.exec(line)![0];
      expect(names).toContain(name);
    }
  });
});

describe("a real master's /metrics", () => {
  let master: TestMaster;
  let agent: Proc;
  const dir = tempDir("lava-metrics-");
  beforeAll(async () => {
    master = await TestMaster.start();
    agent = startAgent(master, { hostname: "mx-1", procRoot: writeProcFixture(join(dir, "proc")), args: ["--state-dir", join(dir, "state")] });
    await waitFor(async () => (await master.api<string>("/metrics")).body.includes('lava_host_up{host="mx-1"} 1'), 10_000, "mx-1 up in /metrics");
  });
  afterAll(() => teardown({ clients: [agent], masters: [master] }));

  test("has the new names, and passes promtool check metrics", async () => {
    const text = (await master.api<string>("/metrics")).body;
    expect(text).toMatch(/^lava_build_info\{version="[^"]+",commit="[^"]+"\} 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text).toMatch(/^process_open_fds \d+$/m);
    expect(text).toContain('lava_host_state{host="mx-1",state="ok"} 1');
    expect(text).toMatch(/^lava_host_cpu_idle_ratio\{host="mx-1"\} (0(\.\d+)?|1)$/m);
    // History is on by default: its counters are there (a write error or a refusal here would be a bug).
    expect(text).toMatch(/^lava_history_flushes_total \d+$/m);
    expect(text).toMatch(/^lava_history_write_errors_total 0$/m);
    expect(text).toMatch(/^lava_history_samples_refused_total 0$/m);
    // The Grafana dashboard asks only for names this master exports (follower lag exists on a leader with followers).
    const dashboard = readFileSync(join(import.meta.dir, "../../docs/grafana/lava.json"), "utf8");
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    exported.add("lava_raft_follower_lag_entries");
    const asked = new Set([...dashboard.matchAll(/\b((?:lava|process)_[a-z0-9_]+)/g)].map((m) => m[1]!));
    expect(asked.size).toBeGreaterThan(15);
    for (const name of asked) expect(`${name}: ${exported.has(name) ? "exported" : "missing"}`).toBe(`${name}: exported`);
    const promtool = Bun.which("promtool");
    if (!promtool) {
      console.warn("\n*** SKIPPED: promtool check metrics: promtool is not installed (apt-get install prometheus; .ci/run installs it) ***\n");
      return;
    }
    const p = Bun.spawnSync([promtool, "check", "metrics"], { stdin: new TextEncoder().encode(text), stderr: "pipe", stdout: "pipe" });
    expect(`${p.stdout}${p.stderr}`.trim()).toBe("");
    expect(p.exitCode).toBe(0);
  }, 15_000);
});
