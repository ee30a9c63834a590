#!/usr/bin/env bun
/**
 * Agent footprint (issue 16): resident memory and CPU of the compiled
 * `lava agent` over S seconds, at the default report interval (4 s) and at
 * 1 s, side by side with, in the same run and on the same machine:
 * - a bare Bun process reading the same /proc files at the same interval
 *   (bench/lib/proc-reader.ts): the floor of any agent written for Bun;
 * - node_exporter (Debian `prometheus-node-exporter`) scraped at the same
 *   interval, and collectd (Debian `collectd`, load/memory/cpu plugins),
 *   when installed: what operators run today.
 *
 *   bun bench/agent.ts [--seconds 60] [--warmup 10] [--smoke] [--lava dist/lava] [--out FILE]
 *
 * Each agent reports with AUTH to its own master (the 1 s master hands out a
 * 1 s interval), exactly as in production; each process is measured from
 * outside: VmRSS (and its anonymous / file-backed parts) sampled every
 * second, CPU as the sum of its threads' schedstat over the measured window
 * (nanosecond resolution), in percent of one core. Targets at the default
 * interval: RSS ≤ 40 MiB and CPU ≤ 0.1 % of a core.
 *
 * --smoke (the CI test) measures 3 s after a short warm-up and writes to
 * --out only, so the figures in bench/results/agent.json stay those of a
 * full run. Every process it starts is stopped at the end, also on error.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { parseFlags } from "./lib/args.ts";
import { trackChild } from "./lib/child.ts";
import { BenchMaster, binaryIsStale, binaryVersion, lavaBinary, REPO } from "./lib/master.ts";
import { cpuSecondsFine, rssParts } from "./lib/proc.ts";
import { writeResult } from "./lib/results.ts";
import { round } from "./lib/stats.ts";
import { cleanEnv } from "../tests/helpers/binary.ts";
import { waitFor } from "../tests/helpers/wait.ts";

const flags = parseFlags("bun bench/agent.ts", process.argv.slice(2), {
  seconds: { kind: "number", default: 60, min: 1, help: "measured window" },
  warmup: { kind: "number", default: 10, min: 0, help: "seconds after every agent's first report before measuring" },
  smoke: { kind: "boolean", default: false, help: "3 s window, 1 s warm-up, results only to --out (the CI test)" },
  lava: { kind: "string", default: null, help: "lava binary (default dist/lava; built if missing)" },
  out: { kind: "string", default: null, help: "JSON result file (default bench/results/agent.json; none with --smoke)" },
});

const SECONDS = flags.smoke ? 3 : flags.seconds;
const WARMUP = flags.smoke ? 1 : flags.warmup;
const INTERVALS = [4, 1] as const;
const TARGET_RSS_BYTES = 40 * 1048576;
const TARGET_CPU_PCT = 0.1;

const bin = lavaBinary(flags.lava);
const tmp = mkdtempSync(join(tmpdir(), "lava-bench-agent-"));
const children: Subprocess[] = [];
const masters: BenchMaster[] = [];

interface Subject {
  name: string;
  intervalS: number;
  pid: number;
}

function spawn(argv: string[], env: Record<string, string> = {}): Subprocess {
  const p = Bun.spawn(argv, { env: { ...cleanEnv(), ...env }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  trackChild(p);
  children.push(p);
  return p;
}

/** The first of these programs found on PATH (or in /usr/sbin, where Debian puts daemons), or null. */
function which(...names: string[]): string | null {
  for (const n of names) {
    const found = Bun.which(n, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
    if (found) return found;
  }
  return null;
}

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

async function agentToken(m: BenchMaster): Promise<string> {
  const res = await fetch(`http://${m.addr}/api/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${m.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ role: "agent", subject: "bench" }),
  });
  if (!res.ok) throw new Error(`POST /api/v1/tokens: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

async function startAgent(intervalS: number): Promise<Subject> {
  const m = await BenchMaster.start({ bin, env: { LAVA_REPORT_INTERVAL: String(intervalS) } });
  masters.push(m);
  const name = `bench-agent-${intervalS}s`;
  const p = spawn([bin, "agent", "--master", m.addr, "--token", await agentToken(m), "--hostname", name, "--state-dir", join(tmp, name), "--interval", String(intervalS)]);
  // Reporting: the master has accepted at least two of its reports.
  await waitFor(
    async () => {
      if (p.exitCode !== null) throw new Error(`${name} exited ${p.exitCode}: ${await new Response(p.stderr as ReadableStream).text()}`);
      const rows = await m.api<{ host: string; reportsReceived?: number }[]>("/api/v1/load");
      return (rows.find((r) => r.host === name)?.reportsReceived ?? 0) >= 2;
    },
    (3 * intervalS + 15) * 1000,
    `${name} to report`,
    200,
  );
  return { name: `lava agent (${intervalS} s)`, intervalS, pid: p.pid };
}

function startReader(intervalS: number): Subject {
  const p = spawn([process.execPath, join(REPO, "bench", "lib", "proc-reader.ts"), String(intervalS)]);
  return { name: `bare bun reading /proc (${intervalS} s)`, intervalS, pid: p.pid };
}

/** node_exporter with its default collectors, scraped every interval as a Prometheus would. */
async function startNodeExporter(exe: string, intervalS: number): Promise<{ subject: Subject; stop: () => void }> {
  const port = await freePort();
  const p = spawn([exe, `--web.listen-address=127.0.0.1:${port}`]);
  const url = `http://127.0.0.1:${port}/metrics`;
  await waitFor(async () => (await fetch(url).catch(() => null))?.ok === true, 10_000, "node_exporter to answer", 100);
  const timer = setInterval(() => void fetch(url).then((r) => r.arrayBuffer()).catch(() => {}), intervalS * 1000);
  return { subject: { name: `node_exporter (scraped every ${intervalS} s)`, intervalS, pid: p.pid }, stop: () => clearInterval(timer) };
}

/** collectd in the foreground with the load, memory and cpu plugins at the interval, writing nowhere. */
function startCollectd(exe: string, intervalS: number): Subject {
  const conf = join(tmp, `collectd-${intervalS}.conf`);
  writeFileSync(conf, `Interval ${intervalS}\nBaseDir "${tmp}"\nPIDFile "${tmp}/collectd-${intervalS}.pid"\nLoadPlugin load\nLoadPlugin memory\nLoadPlugin cpu\n`);
  const p = spawn([exe, "-f", "-C", conf]);
  return { name: `collectd (${intervalS} s)`, intervalS, pid: p.pid };
}

interface Row {
  name: string;
  intervalS: number;
  rssBytes: number;
  rssMaxBytes: number;
  rssAnonBytes: number;
  rssFileBytes: number;
  cpuPctOfCore: number;
}

async function measure(subjects: Subject[]): Promise<Row[]> {
  const t0 = performance.now();
  const cpu0 = subjects.map((s) => cpuSecondsFine(s.pid));
  const rssMax = subjects.map(() => 0);
  const deadline = t0 + SECONDS * 1000;
  while (performance.now() < deadline) {
    subjects.forEach((s, i) => (rssMax[i] = Math.max(rssMax[i]!, rssParts(s.pid).rss)));
    await Bun.sleep(Math.min(1000, Math.max(0, deadline - performance.now())));
  }
  const wallS = (performance.now() - t0) / 1000;
  return subjects.map((s, i) => {
    const parts = rssParts(s.pid);
    return {
      name: s.name,
      intervalS: s.intervalS,
      rssBytes: parts.rss,
      rssMaxBytes: Math.max(rssMax[i]!, parts.rss),
      rssAnonBytes: parts.anon,
      rssFileBytes: parts.file,
      cpuPctOfCore: round((100 * (cpuSecondsFine(s.pid) - cpu0[i]!)) / wallS, 4),
    };
  });
}

const mib = (b: number) => (b / 1048576).toFixed(1);

async function main(): Promise<void> {
  const subjects: Subject[] = [];
  const stops: (() => void)[] = [];
  const exporter = which("prometheus-node-exporter", "node_exporter");
  const collectd = which("collectd");
  for (const s of INTERVALS) {
    subjects.push(await startAgent(s));
    subjects.push(startReader(s));
    if (exporter) {
      const e = await startNodeExporter(exporter, s);
      subjects.push(e.subject);
      stops.push(e.stop);
    }
    if (collectd) subjects.push(startCollectd(collectd, s));
  }
  if (!exporter) console.error("bench: node_exporter not installed (apt-get install prometheus-node-exporter): not compared");
  if (!collectd) console.error("bench: collectd not installed (apt-get install collectd): not compared");
  await Bun.sleep(WARMUP * 1000);
  for (const s of subjects) if (!rssParts(s.pid).rss) throw new Error(`${s.name} is not running`);
  console.error(`bench: measuring ${subjects.length} processes for ${SECONDS} s`);
  const rows = await measure(subjects);
  stops.forEach((f) => f());

  const floorOf = (intervalS: number) => rows.find((r) => r.intervalS === intervalS && r.name.startsWith("bare bun"))!;
  console.log(`${"process".padEnd(38)} ${"RSS MiB".padStart(8)} ${"(anon".padStart(7)} ${"file)".padStart(6)} ${"max".padStart(6)} ${"CPU %core".padStart(10)} ${"RSS vs bun".padStart(11)}`);
  for (const r of rows) {
    const ratio = (r.rssBytes / floorOf(r.intervalS).rssBytes).toFixed(2);
    console.log(`${r.name.padEnd(38)} ${mib(r.rssBytes).padStart(8)} ${mib(r.rssAnonBytes).padStart(7)} ${mib(r.rssFileBytes).padStart(6)} ${mib(r.rssMaxBytes).padStart(6)} ${r.cpuPctOfCore.toFixed(4).padStart(10)} ${`${ratio}×`.padStart(11)}`);
  }
  const agent = rows.find((r) => r.name === "lava agent (4 s)")!;
  const meets = { rss: agent.rssMaxBytes <= TARGET_RSS_BYTES, cpu: agent.cpuPctOfCore <= TARGET_CPU_PCT };
  console.log(`targets at 4 s: RSS ≤ 40 MiB ${meets.rss ? "met" : "MISSED"} (max ${mib(agent.rssMaxBytes)}), CPU ≤ 0.1 % ${meets.cpu ? "met" : "MISSED"} (${agent.cpuPctOfCore.toFixed(4)} %)`);

  const result = { version: binaryVersion(bin), staleBinary: binaryIsStale(bin), seconds: SECONDS, warmupSeconds: WARMUP, smoke: flags.smoke, rows, targets: { rssBytes: TARGET_RSS_BYTES, cpuPctOfCore: TARGET_CPU_PCT, met: meets } };
  if (!flags.smoke || flags.out) console.error(`bench: wrote ${writeResult("agent", result, flags.out)}`);
}

try {
  await main();
} finally {
  for (const p of children) p.kill("SIGKILL");
  await Promise.all(children.map((p) => p.exited));
  await Promise.all(masters.map((m) => m.dispose()));
  rmSync(tmp, { recursive: true, force: true });
}
