#!/usr/bin/env bun
/**
 * Fleet benchmark (issue bar): one process simulates N agents (distinct
 * hostnames, host ids and session keys, each on its own jittered 4 s timer)
 * against the compiled master for S seconds, restarting the master half-way.
 *
 *   bun bench/fleet.ts [--hosts 10000] [--seconds 60] [--no-restart] [--seed 1] [--smoke] [--out FILE]
 *   bun bench/fleet.ts --failover [--hosts 10000] [--settle 35] [--smoke]    (bench/lib/fleet-failover.ts)
 *
 * --smoke: 100 agents, 6 s (restart at 3 s), 2 ctl runs, no targets judged;
 * a test runs it in CI so the benchmark cannot rot.
 *
 * --failover: three masters instead, the leader SIGKILLed under the fleet
 * (bench/lib/fleet-failover.ts says what it measures); → fleet-failover.json.
 *
 * Measured:
 * - master RSS per host: (RSS with every host registered and reporting −
 *   RSS idle) / N, from /proc/<pid>/status (target ≤ 1 KiB per host);
 * - master CPU share (utime+stime from /proc/<pid>/stat over wall time);
 * - the arrival process: every report's send time in 100 ms buckets (on
 *   loopback a send is an arrival); index of dispersion (variance/mean,
 *   1 for Poisson) and max/mean, over the run and over the 10 s after the
 *   restart (target: no window above 2× the mean); plus the master's own
 *   `ingest.accepted`, sampled every second, against what was sent;
 * - `lava ctl load --json` with N hosts live: 10 runs, spawn to exit, each
 *   output checked to hold N entries (target ≤ 100 ms), against `lava version`
 *   (process start cost) in the same run.
 *
 * - `POST /api/v1/jobs` with N hosts registered: `--submits` held jobs
 *   (accepted, written, never placed) and as many refused ones (asking more
 *   cpus than any host has: the submit-time check alone, nothing written),
 *   each timed from this process, one at a time.
 *
 * The simulated agents (bench/lib/fleet-sim.ts) run the real agent's
 * connection state machine (src/agent/connection/) and report timing
 * (src/agent/schedule.ts), with a 10 s reconnectMin. The whole run takes
 * about S + 60 s; every process it starts is stopped at the end, also on
 * error.
 */
import { join } from "node:path";
import { parseFlags } from "./lib/args.ts";
import { runFailover } from "./lib/fleet-failover.ts";
import { bucketWindow, BUCKET_MS, FleetSim } from "./lib/fleet-sim.ts";
import { BenchMaster, LIFT_REGISTRATION_LIMITS, masterConfigFile, binaryIsStale, binaryVersion, lavaBinary, type StatusBody } from "./lib/master.ts";
import { cpuShare, renice, sample, sysctl, type ProcSample } from "./lib/proc.ts";
import { writeResult } from "./lib/results.ts";
import { fmtInt, fmtMiB, percentile, round, summarizeCounts } from "./lib/stats.ts";
import { cleanEnv } from "../tests/helpers/binary.ts";

const flags = parseFlags("bun bench/fleet.ts", process.argv.slice(2), {
  hosts: { kind: "number", default: 10_000, min: 1, integer: true, help: "simulated agents" },
  seconds: { kind: "number", default: 60, min: 2, help: "measured run time (after set-up)" },
  restart: { kind: "boolean", default: true, help: "restart the master half-way and keep measuring" },
  seed: { kind: "number", default: 1, integer: true, help: "seed of the agents' timers and backoff" },
  sockets: { kind: "number", default: 16, min: 1, integer: true, help: "UDP sockets the agents share" },
  "reg-rate": { kind: "number", default: 450, min: 1, help: "first registrations started per second (the master admits 500/s)" },
  "ctl-runs": { kind: "number", default: 10, min: 1, integer: true, help: "timed runs of `lava ctl load --json` (and of `lava version`)" },
  renice: { kind: "boolean", default: true, help: "run the simulator at nice -10 so the master's CPU bursts do not delay its timers" },
  "after-restart": { kind: "number", default: 10, min: 1, help: "seconds after the restart examined on their own" },
  lava: { kind: "string", default: null, help: "lava binary (default dist/lava; built if missing)" },
  "cpu-prof": { kind: "string", default: null, help: "run the master from source under `bun --cpu-prof-md`, profiles into this dir" },
  submits: { kind: "number", default: 50, min: 1, integer: true, help: "timed job submissions with every host registered (held ones, and as many refused)" },
  failover: { kind: "boolean", default: false, help: "three masters, SIGKILL the leader under the fleet (bench/lib/fleet-failover.ts) instead of the restart run" },
  settle: { kind: "number", default: 35, min: 0, help: "--failover: seconds the fleet runs before the kill (a ping interval: masters' advice to agents is current)" },
  "failover-timeout": { kind: "number", default: 60, min: 5, help: "--failover: give up waiting for the channels this long after the kill" },
  "master-config": { kind: "string", default: "", help: "YAML lines (indented two spaces) added under `master:` (e.g. '  wsResumePerSec: 1000\n')" },
  smoke: { kind: "boolean", default: false, help: "100 agents, 6 s with the restart, 2 ctl runs, no targets judged: a quick check that it all works (CI)" },
  out: { kind: "string", default: null, help: "JSON result file (default bench/results/fleet.json, fleet-failover.json)" },
});
const SMOKE = flags.smoke;
const SECONDS = SMOKE ? Math.min(flags.seconds, 6) : flags.seconds;
const CTL_RUNS = SMOKE ? Math.min(flags["ctl-runs"], 2) : flags["ctl-runs"];
const AFTER_RESTART_S = SMOKE ? Math.min(flags["after-restart"], 2) : flags["after-restart"];

const bin = lavaBinary(flags.lava);
const version = binaryVersion(bin);
const stale = binaryIsStale(bin);
const N = SMOKE ? Math.min(flags.hosts, 100) : flags.hosts;
const SUBMITS = SMOKE ? Math.min(flags.submits, 5) : flags.submits;

if (flags.failover) {
  await runFailover({
    bin,
    hosts: N,
    seed: flags.seed,
    sockets: flags.sockets,
    regRate: flags["reg-rate"],
    settleS: SMOKE ? Math.min(flags.settle, 2) : flags.settle,
    timeoutS: flags["failover-timeout"],
    renice: flags.renice,
    smoke: SMOKE,
    out: flags.out,
    masterConfig: flags["master-config"] ?? "",
  });
  process.exit(0);
}

async function timed(argv: string[]): Promise<{ ms: number; code: number; stdout: string; stderr: string }> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, { env: cleanEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { ms: performance.now() - t0, code, stdout, stderr };
}

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, progress?: () => string): Promise<void> {
  const t0 = performance.now();
  let lastLog = t0;
  while (!(await cond())) {
    const now = performance.now();
    if (now - t0 > timeoutMs) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${progress ? ` (${progress()})` : ""}`);
    if (progress && now - lastLog > 5000) {
      console.log(`  … ${progress()}`);
      lastLog = now;
    }
    await Bun.sleep(50);
  }
}

interface Tick {
  t: number;
  master: 1 | 2;
  accepted: number;
  dropped: number;
  kernelSocketDrops: number | null;
  sessions: number;
  simRegistered: number;
  hosts: Record<string, number>;
  rssBytes: number;
  cpuS: number;
}

/**
 * The agents of a real fleet run on their own machines; here they share two
 * cores with the master, and the master's CPU bursts (announce rounds, its
 * restart, re-registrations) would delay their timers and bunch their
 * reports. Raising this process's priority keeps the simulated timers on time
 * (checked: the timer lateness is reported); the master's CPU figures are CPU
 * time, which priority does not change. Needs root; without it the run goes
 * on at normal priority and says so.
 */
function raisePriority(): number | null {
  return renice(process.pid, -10) ? -10 : null;
}

let master: BenchMaster | null = null;
let sim: FleetSim | null = null;

try {
  console.log(`lava fleet bench: ${fmtInt(N)} agents, ${SECONDS} s${flags.restart ? ", master restarted half-way" : ""}; Bun ${Bun.version}; ${version}${stale ? " (binary older than src/)" : ""}`);
  const simNice = flags.renice && !SMOKE ? raisePriority() : null;
  if (flags.renice && !SMOKE && simNice === null) console.log("could not raise the simulator's priority (not root?): its timers may run late while the master is busy");
  const cpuProf = flags["cpu-prof"];
  // One host's registrations come from one token and one address here (10,000 agents on loopback with the
  // admin token): the per-token and per-address registration limits (docs/security.md) are lifted for the
  // bench; the upgrade admission (wsAdmitPerSec) still protects the master.
  master = await BenchMaster.start({
    args: ["--config", masterConfigFile(LIFT_REGISTRATION_LIMITS + (flags["master-config"] ?? ""))],
    bin: cpuProf ? [process.execPath, "--cpu-prof-md", `--cpu-prof-dir=${cpuProf}`, join(import.meta.dir, "..", "src", "main.ts")] : bin,
  });
  if (cpuProf) console.log(`master runs from source under the CPU profiler; profiles in ${cpuProf} when it stops`);
  const m = master;
  await m.status();
  await Bun.sleep(1000);
  const idle = sample(m.pid);
  console.log(`master idle: RSS ${fmtMiB(idle.rssBytes)}`);

  // ---- set-up: every agent registers (paced below the master's admission rate)
  const s = await FleetSim.create({
    hosts: N,
    seed: flags.seed,
    sockets: flags.sockets,
    masterHost: "127.0.0.1",
    httpPort: () => m.httpPort,
    udpPort: m.udpPort,
    token: m.adminToken,
    policy: { minMs: 10_000, maxMs: 300_000 },
    handshakeTimeoutMs: 10_000,
  });
  sim = s;
  const regT0 = performance.now();
  s.startAll(flags["reg-rate"]);
  await waitUntil(() => s.registeredCurrent === N, (N / flags["reg-rate"]) * 2000 + 60_000, "every agent to register", () => `${fmtInt(s.registeredCurrent)} registered, ${s.counters.rejected503} × 503, ${s.counters.connectFailures} failures${s.lastFailure ? ` (${s.lastFailure})` : ""}`);
  const regMs = performance.now() - regT0;
  const setup503 = s.counters.rejected503;
  const afterRegistration = sample(m.pid);
  console.log(`registered ${fmtInt(N)} agents in ${(regMs / 1000).toFixed(1)} s (${s.counters.rejected503} × 503, ${s.counters.connectFailures} failures); master RSS ${fmtMiB(afterRegistration.rssBytes)}`);

  // ---- warm-up: every host reports (its phase offset is under one interval), then RSS steady
  const intervalMs = 4000;
  await waitUntil(() => performance.now() >= s.lastRegistrationAt + intervalMs + 500, intervalMs + 5000, "one report interval");
  await waitUntil(async () => (await m.status()).hosts.unavail === 0, 10_000, "every host to have reported");
  const firstReports = sample(m.pid);
  console.log(`all reporting: master RSS ${fmtMiB(firstReports.rssBytes)}`);

  // ---- `lava ctl load --json` while N hosts are live, against `lava version`, alternating
  const loadMs: number[] = [];
  const versionMs: number[] = [];
  const statusMs: number[] = [];
  let loadEntriesOk = true;
  let loadBytes = 0;
  for (let k = 0; k < CTL_RUNS; k++) {
    const v = await timed([bin, "version"]);
    if (v.code !== 0) throw new Error(`lava version exited ${v.code}: ${v.stderr}`);
    versionMs.push(v.ms);
    const st = await timed([bin, "ctl", "status", "--json", "--master", m.addr, "--token", m.adminToken]);
    if (st.code !== 0) throw new Error(`lava ctl status --json exited ${st.code}: ${st.stderr.slice(0, 500)}`);
    statusMs.push(st.ms);
    const l = await timed([bin, "ctl", "load", "--json", "--master", m.addr, "--token", m.adminToken]);
    if (l.code !== 0) throw new Error(`lava ctl load --json exited ${l.code}: ${l.stderr.slice(0, 500)}`);
    loadMs.push(l.ms);
    loadBytes = l.stdout.length;
    const rows = JSON.parse(l.stdout) as unknown[];
    if (!Array.isArray(rows) || rows.length !== N) {
      loadEntriesOk = false;
      console.log(`  ctl load --json returned ${Array.isArray(rows) ? rows.length : "no array"} entries, expected ${N}`);
    }
  }
  // The master's share: the same query from this process, answer read in full, not parsed.
  const fetchMs: number[] = [];
  for (let k = 0; k < CTL_RUNS; k++) {
    const t0 = performance.now();
    const res = await fetch(`http://${m.addr}/api/v1/load`, { headers: { authorization: `Bearer ${m.adminToken}` } });
    await res.arrayBuffer();
    fetchMs.push(performance.now() - t0);
  }
  const fetchP50 = percentile(fetchMs, 50);

  // ---- POST /api/v1/jobs with N hosts registered: accepted (held: written, never placed), refused by the check alone, and held on one named host.
  const submit = async (body: object, want: number): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`http://${m.addr}/api/v1/jobs`, { method: "POST", headers: { authorization: `Bearer ${m.adminToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== want) throw new Error(`POST /api/v1/jobs ${JSON.stringify(body)}: HTTP ${res.status} (expected ${want}): ${text.slice(0, 300)}`);
    return ms;
  };
  const submitMs = { held: [] as number[], refused: [] as number[], named: [] as number[] };
  for (let k = 0; k < SUBMITS; k++) {
    submitMs.held.push(await submit({ argv: ["true"], hold: true }, 201));
    submitMs.refused.push(await submit({ argv: ["true"], cpus: 60_000 }, 400));
    submitMs.named.push(await submit({ argv: ["true"], hold: true, hosts: ["sim-00042"] }, 201));
  }
  const submitFig = (xs: number[]) => ({ p50Ms: round(percentile(xs, 50), 2), p90Ms: round(percentile(xs, 90), 2), maxMs: round(Math.max(...xs), 2) });
  const submits = { runs: SUBMITS, held: submitFig(submitMs.held), refused: submitFig(submitMs.refused), namedHost: submitFig(submitMs.named) };
  console.log(`POST /api/v1/jobs with ${fmtInt(N)} hosts (${SUBMITS} each): held p50 ${submits.held.p50Ms} ms (p90 ${submits.held.p90Ms}); refused (never fits) p50 ${submits.refused.p50Ms} ms (p90 ${submits.refused.p90Ms}); held on a named host p50 ${submits.namedHost.p50Ms} ms (p90 ${submits.namedHost.p90Ms})`);
  const loadP50 = percentile(loadMs, 50);
  const versionP50 = percentile(versionMs, 50);
  const statusP50 = percentile(statusMs, 50);
  console.log(`ctl load --json (${fmtInt(N)} hosts, ${(loadBytes / 1e6).toFixed(1)} MB): p50 ${loadP50.toFixed(0)} ms, max ${Math.max(...loadMs).toFixed(0)} ms; lava version p50 ${versionP50.toFixed(0)} ms; ctl status --json p50 ${statusP50.toFixed(0)} ms; GET /api/v1/load from here p50 ${fetchP50.toFixed(0)} ms`);

  // ---- the measured run
  const T0 = performance.now();
  const tEnd = T0 + SECONDS * 1000;
  const tRestart = flags.restart ? T0 + (SECONDS * 1000) / 2 : Infinity;
  const ticks: Tick[] = [];
  let gen: 1 | 2 = 1;
  let acceptedMaster1 = 0; // by master 1 from T0 to its stop
  const dropsMaster1: Record<string, number> = {};
  const sim0 = (await s.stats()).counters;
  const status0: StatusBody = await m.status();
  const acceptedBefore = status0.ingest.accepted; // by master 1 before T0
  const dropsBefore = { ...status0.ingest.dropped };
  const kernelBefore = status0.ingest.kernel?.socketDrops ?? null;
  let kernelMaster1: number | null = null;
  const cpu0 = sample(m.pid);
  let preRestart: ProcSample | null = null;
  let postStart: ProcSample | null = null;
  let restartedAt = 0;
  let downtimeMs = 0;
  console.log(`measuring for ${SECONDS} s…`);

  const tick = async (): Promise<void> => {
    try {
      const st = await m.status();
      const p = sample(m.pid);
      const dropped = Object.values(st.ingest.dropped).reduce((a, b) => a + b, 0);
      ticks.push({
        t: round((performance.now() - T0) / 1000, 2),
        master: gen,
        accepted: st.ingest.accepted,
        dropped,
        kernelSocketDrops: st.ingest.kernel?.socketDrops ?? null,
        sessions: st.sessions,
        simRegistered: s.registeredCurrent,
        hosts: st.hosts,
        rssBytes: p.rssBytes,
        cpuS: p.cpuS,
      });
    } catch {
      // the master is restarting
    }
  };

  let nextTick = T0 + 1000;
  while (performance.now() < tEnd) {
    const now = performance.now();
    if (now >= tRestart && gen === 1) {
      // Last word from master 1, then stop it (its sessions die with it) and start it again.
      const st = await m.status();
      preRestart = sample(m.pid);
      acceptedMaster1 = st.ingest.accepted - acceptedBefore;
      for (const [k, v] of Object.entries(st.ingest.dropped)) dropsMaster1[k] = v - (dropsBefore[k] ?? 0);
      kernelMaster1 = st.ingest.kernel && kernelBefore !== null ? st.ingest.kernel.socketDrops - kernelBefore : null;
      restartedAt = performance.now();
      s.masterRestarting();
      await m.stop();
      await m.restart();
      downtimeMs = performance.now() - restartedAt;
      gen = 2;
      postStart = sample(m.pid);
      console.log(`restarted the master at t=${((restartedAt - T0) / 1000).toFixed(1)} s (down ${downtimeMs.toFixed(0)} ms); RSS with ${fmtInt(N)} host records, no sessions: ${fmtMiB(postStart.rssBytes)}`);
    }
    if (now >= nextTick) {
      nextTick += 1000;
      await tick();
    }
    await Bun.sleep(Math.max(1, Math.min(nextTick, tRestart, tEnd) - performance.now()));
  }
  const actualEnd = performance.now();
  const sim1 = (await s.stats()).counters;
  const final = await m.status();
  const end = sample(m.pid);
  const registeredAtEnd = s.registeredCurrent;
  const counters = { ...s.counters };
  const rs = await s.stop();
  sim = null;
  if (!rs) throw new Error("no figures from the report worker");
  const win = (counts: number[], from: number, to: number) => bucketWindow(counts, s.epochAbs, s.abs(from), s.abs(to));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const sentRun = { sent: sim1.sent - sim0.sent, current: sim1.sentCurrent - sim0.sentCurrent, stale: sim1.sentStale - sim0.sentStale };
  const latenessPct = (p: number) => {
    const total = sum(rs.latenessHist);
    let acc = 0;
    for (let ms = 0; ms < rs.latenessHist.length; ms++) {
      acc += rs.latenessHist[ms]!;
      if (acc >= (p / 100) * total) return ms;
    }
    return 1000;
  };
  const firstSec = Math.floor((s.abs(T0) - s.epochAbs) / 1000);
  const lastSec = Math.ceil((s.abs(actualEnd) - s.epochAbs) / 1000);
  const lateness = {
    p50: latenessPct(50),
    p99: latenessPct(99),
    p999: latenessPct(99.9),
    max: latenessPct(100),
    maxInRun: Math.max(0, ...rs.latenessMaxBySecond.slice(firstSec, lastSec)),
    maxBySecondOfRun: rs.latenessMaxBySecond.slice(firstSec, lastSec),
  };
  if (s.errors.length) throw new Error(`simulator error(s):\n${s.errors.join("\n")}`);

  // ---- figures
  const acceptedRun = gen === 1 ? final.ingest.accepted - acceptedBefore : acceptedMaster1 + final.ingest.accepted;
  const dropsRun: Record<string, number> = {};
  for (const [k, v] of Object.entries(final.ingest.dropped)) dropsRun[k] = (gen === 1 ? v - (dropsBefore[k] ?? 0) : v) + (dropsMaster1[k] ?? 0);
  const kernelRun =
    gen === 1
      ? final.ingest.kernel && kernelBefore !== null
        ? final.ingest.kernel.socketDrops - kernelBefore
        : null
      : kernelMaster1 !== null && final.ingest.kernel
        ? kernelMaster1 + final.ingest.kernel.socketDrops
        : null;

  const runCounts = win(rs.sends, T0, actualEnd);
  const run = summarizeCounts(runCounts);
  const afterMs = AFTER_RESTART_S * 1000;
  const afterCounts = restartedAt ? win(rs.sends, restartedAt, restartedAt + afterMs) : [];
  const after = restartedAt ? summarizeCounts(afterCounts) : null;
  const afterMaxOverRunMean = after && run.mean > 0 ? round(after.max / run.mean, 4) : null;
  const currentAfter = restartedAt ? summarizeCounts(win(rs.currentSends, restartedAt, actualEnd)) : null;
  const regsAfter = restartedAt ? win(s.registrations, restartedAt, actualEnd) : [];
  const regsPerSecAfter: number[] = [];
  for (let k = 0; k < regsAfter.length; k += 1000 / BUCKET_MS) regsPerSecAfter.push(regsAfter.slice(k, k + 1000 / BUCKET_MS).reduce((a, b) => a + b, 0));
  const firstRegAfter = regsAfter.findIndex((c) => c > 0);

  const cpuSteady = cpuShare(cpu0, preRestart ?? end);
  const cpuAfter = postStart ? cpuShare(postStart, end) : null;
  const acceptedOfCurrent = sentRun.current > 0 ? acceptedRun / sentRun.current : 0;
  const acceptedOfAll = sentRun.sent > 0 ? acceptedRun / sentRun.sent : 0;

  const ok = (b: boolean) => (SMOKE ? "not judged in a smoke run" : b ? "met" : "NOT met");
  // RSS with every host registered and reporting, steady: the median of the once-a-second
  // samples of the first master over the run (an announce round adds a transient ~17 MB at 10k hosts).
  const rss1 = ticks.filter((t) => t.master === 1).map((t) => t.rssBytes);
  const rssSteady = rss1.length ? percentile(rss1, 50) : firstReports.rssBytes;
  const rssPerHost = (rssSteady - idle.rssBytes) / N;
  const rssMet = rssPerHost <= 1024;
  const burstMet = run.maxOverMean <= 2 && (after === null || (after.maxOverMean <= 2 && (afterMaxOverRunMean ?? 0) <= 2));
  const ctlMet = Math.max(...loadMs) <= 100 && loadEntriesOk;

  console.log("");
  console.log(`master RSS: idle ${fmtMiB(idle.rssBytes)}, just registered ${fmtMiB(afterRegistration.rssBytes)}, first reports ${fmtMiB(firstReports.rssBytes)}, steady ${fmtMiB(rssSteady)} (median; ${fmtMiB(Math.min(...rss1))}–${fmtMiB(Math.max(...rss1))})${postStart ? `; restarted with ${fmtInt(N)} host records, no sessions ${fmtMiB(postStart.rssBytes)}; end (${fmtInt(registeredAtEnd)} sessions) ${fmtMiB(end.rssBytes)}` : ""}`);
  console.log(`RSS per host: ${rssPerHost.toFixed(0)} B over idle (target ≤ 1024 B: ${ok(rssMet)})`);
  console.log(`master CPU: ${(cpuSteady * 100).toFixed(1)} % of a core while ${fmtInt(N)} agents report${cpuAfter !== null ? `; ${(cpuAfter * 100).toFixed(1)} % after the restart (re-registrations)` : ""}`);
  console.log(`arrivals per ${BUCKET_MS} ms over the run: mean ${run.mean.toFixed(1)}, index of dispersion ${run.indexOfDispersion.toFixed(3)}, max/mean ${run.maxOverMean.toFixed(3)}`);
  if (after) console.log(`  ${AFTER_RESTART_S} s after the restart: mean ${after.mean.toFixed(1)}, index of dispersion ${after.indexOfDispersion.toFixed(3)}, max/mean ${after.maxOverMean.toFixed(3)} (max / run mean ${afterMaxOverRunMean?.toFixed(3)})`);
  console.log(`  no window above 2× the mean: ${ok(burstMet)}; simulator timer lateness p50 ${lateness.p50} ms, p99 ${lateness.p99} ms, max in the run ${lateness.maxInRun} ms`);
  console.log(`reports: sent ${fmtInt(sentRun.sent)} (${fmtInt(sentRun.current)} under a live session, ${fmtInt(sentRun.stale)} with a session the restart ended), accepted ${fmtInt(acceptedRun)} = ${(acceptedOfCurrent * 100).toFixed(2)} % of live-session reports, ${(acceptedOfAll * 100).toFixed(2)} % of all`);
  console.log(`master drops in the run: ${Object.entries(dropsRun).filter(([, v]) => v).map(([k, v]) => `${k} ${fmtInt(v)}`).join(", ") || "none"}; kernel socket drops ${kernelRun ?? "n/a"}`);
  const unavailAfter = ticks.filter((t) => t.master === 2).map((t) => t.hosts.unavail ?? 0);
  if (restartedAt) {
    console.log(`hosts shown unavail after the restart (per second): ${unavailAfter.map((x) => fmtInt(x)).join(" ")}`);
    console.log(`sessions resumed with a session token (no write): ${fmtInt(s.counters.resumed)}; all ${fmtInt(N)} back ${s.allBackAt ? `${((s.allBackAt - restartedAt) / 1000).toFixed(1)} s after the restart began` : "NOT within the run"} (target ≤ 10 s)`);
    console.log(`re-registration: first after ${firstRegAfter < 0 ? "—" : ((firstRegAfter * BUCKET_MS) / 1000).toFixed(1)} s, ${fmtInt(registeredAtEnd)}/${fmtInt(N)} registered at the end; ${counters.rejected503} × 503 in all; per second after the restart: ${regsPerSecAfter.join(" ")}`);
  }
  console.log(`ctl load --json: p50 ${loadP50.toFixed(0)} ms, max ${Math.max(...loadMs).toFixed(0)} ms, ${loadEntriesOk ? `${fmtInt(N)} entries each` : "WRONG entry count"}; lava version p50 ${versionP50.toFixed(0)} ms (ratio ${(loadP50 / versionP50).toFixed(2)}); ctl status --json p50 ${statusP50.toFixed(0)} ms; GET /api/v1/load alone p50 ${fetchP50.toFixed(0)} ms (target ≤ 100 ms: ${ok(ctlMet)})`);

  const path = writeResult(
    SMOKE ? "fleet-smoke" : "fleet",
    {
      smoke: SMOKE,
      lava: version,
      binaryOlderThanSrc: stale,
      hosts: N,
      seconds: SECONDS,
      restart: flags.restart,
      seed: flags.seed,
      udpSockets: flags.sockets,
      simulatorNice: simNice,
      rmemDefault: Number(sysctl("net/core/rmem_default")),
      registration: { elapsedMs: Math.round(regMs), rejected503: setup503 },
      rss: {
        idleBytes: idle.rssBytes,
        registeredBytes: afterRegistration.rssBytes,
        firstReportsBytes: firstReports.rssBytes,
        steadyMedianBytes: rssSteady,
        steadyMinBytes: rss1.length ? Math.min(...rss1) : null,
        steadyMaxBytes: rss1.length ? Math.max(...rss1) : null,
        beforeRestartBytes: preRestart?.rssBytes ?? null,
        restartedNoSessionsBytes: postStart?.rssBytes ?? null,
        endBytes: end.rssBytes,
        perHostBytes: Math.round(rssPerHost),
      },
      cpu: { steadyShare: round(cpuSteady, 4), afterRestartShare: cpuAfter === null ? null : round(cpuAfter, 4) },
      arrivals: {
        bucketMs: BUCKET_MS,
        run,
        afterRestart: after ? { seconds: AFTER_RESTART_S, ...after, maxOverRunMean: afterMaxOverRunMean } : null,
        liveSessionAfterRestart: currentAfter,
        simulatorLatenessMs: lateness,
      },
      reports: { ...sentRun, accepted: acceptedRun, acceptedOfLiveSession: round(acceptedOfCurrent, 5), acceptedOfAll: round(acceptedOfAll, 5), drops: dropsRun, kernelSocketDrops: kernelRun },
      restartInfo: restartedAt
        ? { atS: round((restartedAt - T0) / 1000, 2), downtimeMs: Math.round(downtimeMs), firstRegistrationAfterS: firstRegAfter < 0 ? null : (firstRegAfter * BUCKET_MS) / 1000, allBackAfterS: s.allBackAt ? round((s.allBackAt - restartedAt) / 1000, 2) : null, resumed: s.counters.resumed, registeredAtEnd, registrationsPerSecondAfter: regsPerSecAfter, hostsUnavailPerSecondAfter: unavailAfter }
        : null,
      ctlLoad: { runs: loadMs.map((x) => round(x, 1)), p50Ms: round(loadP50, 1), maxMs: round(Math.max(...loadMs), 1), entriesOk: loadEntriesOk, outputBytes: loadBytes },
      version: { runs: versionMs.map((x) => round(x, 1)), p50Ms: round(versionP50, 1) },
      ctlStatus: { runs: statusMs.map((x) => round(x, 1)), p50Ms: round(statusP50, 1) },
      apiLoadFetch: { runs: fetchMs.map((x) => round(x, 1)), p50Ms: round(fetchP50, 1) },
      ctlOverVersion: round(loadP50 / versionP50, 3),
      submits,
      simulator: { ...counters, ...rs.counters },
      targets: SMOKE ? null : { rssPerHostMaxBytes: 1024, rssMet, burstMaxOverMean: 2, burstMet, ctlLoadMaxMs: 100, ctlMet },
      timeline: ticks,
    },
    flags.out,
  );
  console.log(`wrote ${path}`);
} finally {
  await sim?.stop();
  await master?.dispose();
}
process.exit(0);
