#!/usr/bin/env bun
/**
 * Scheduler benchmark: one scheduling round over 10,000 pending jobs and
 * 1,000 hosts (design §5), in three shapes of cluster:
 *
 *   spread     idle-ish 16-cpu hosts, 1-cpu jobs: all 10,000 placed
 *   mixed      mixed requests, states, pools, backoff, limits, backfill
 *   saturated  one free cpu per host, requests of many distinct sizes:
 *              almost nothing fits (the slow path: reasons, reservations)
 *   membound   plenty of cpus, memory nearly full and of random sizes: the
 *              index's weak case (cpu and memory fit do not line up)
 *
 * Baseline, same arrays: a bare loop that gives job i host i mod 1,000 after
 * reading both and checking the cpu fit (no ordering, no load, no reasons):
 * the floor of touching every job once and producing a placement.
 * Prints placements/s (jobs/s for the baseline) and ms per round; writes
 * bench/results/scheduler.json.
 *
 *   bun bench/scheduler.ts [--seconds 2] [--smoke] [--out FILE]
 */
import { schedule, type QueueSpec, type SchedHost, type SchedJob } from "../src/jobs/index.ts";
import { parseFlags } from "./lib/args.ts";
import { writeResult } from "./lib/results.ts";
import { percentile } from "./lib/stats.ts";
import { seededRng as rng } from "../src/rng/index.ts";

const flags = parseFlags("bun bench/scheduler.ts", process.argv.slice(2), {
  seconds: { kind: "number", default: 2, min: 0.01, help: "seconds per measurement" },
  smoke: { kind: "boolean", default: false, help: "0.05 s per measurement (at least 5 rounds each): a quick check that it all runs (CI)" },
  out: { kind: "string", default: null, help: "result file" },
});

const SECONDS = flags.smoke ? Math.min(flags.seconds, 0.05) : flags.seconds;
const HOSTS = 1000;
const JOBS = 10_000;
const GiB = 2 ** 30;
const NOW = 1_000_000;


interface Fixture {
  hosts: SchedHost[];
  jobs: SchedJob[];
  queues: Map<string, QueueSpec>;
}

const q = (name: string, o: Partial<QueueSpec> = {}): QueueSpec => ({ name, hosts: [], priority: 0, running: 0, ...o });

function spread(): Fixture {
  const r = rng(1);
  const hosts = Array.from({ length: HOSTS }, (_, i): SchedHost => ({
    hostId: i + 1, hostname: `node-${i}`, state: "ok", ncpus: 16, memBytes: 64 * GiB, gpus: 0,
    load1: Math.round(r() * 32) / 4, used: { cpus: 0, memBytes: 0, gpus: 0 },
  }));
  const jobs = Array.from({ length: JOBS }, (_, i): SchedJob => ({
    id: i + 1, queue: "default", priority: Math.floor(r() * 3), notBeforeMs: 0, cpus: 1, memBytes: 0, gpus: 0,
  }));
  return { hosts, jobs, queues: new Map([["default", q("default")]]) };
}

function mixed(): Fixture {
  const r = rng(2);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const hosts = Array.from({ length: HOSTS }, (_, i): SchedHost => {
    const gpu = r() < 0.1;
    const ncpus = pick([8, 16, 32, 64]);
    const memBytes = pick([32, 64, 128, 256]) * GiB;
    const gpus = gpu ? pick([2, 4, 8]) : 0;
    return {
      hostId: i + 1, hostname: `${gpu ? "gpu" : "node"}-${String(i).padStart(4, "0")}`,
      state: r() < 0.9 ? "ok" : pick(["busy", "drained", "unavail", "unreach"] as const),
      ncpus, memBytes, gpus, load1: r() < 0.05 ? null : Math.round(r() * ncpus * 4) / 4,
      used: { cpus: Math.floor(r() * ncpus * 0.8), memBytes: Math.floor(r() * memBytes * 0.6), gpus: Math.floor(r() * (gpus + 1)) },
    };
  });
  const queues = new Map([
    ["default", q("default")],
    ["gpu", q("gpu", { hosts: ["gpu-*"], priority: 10, maxRunning: 300, running: 20 })],
    ["short", q("short", { hosts: ["node-0*", "node-1?3?"], priority: 5 })],
  ]);
  const jobs = Array.from({ length: JOBS }, (_, i): SchedJob => {
    const x = r();
    const queue = x < 0.75 ? "default" : x < 0.9 ? "short" : "gpu";
    return {
      id: i + 1, queue, priority: pick([0, 0, 0, 1, 2]), notBeforeMs: r() < 0.03 ? NOW + 1 : 0,
      cpus: r() < 0.1 ? pick([8, 16, 32]) : pick([1, 1, 1, 2, 4]),
      memBytes: r() < 0.5 ? 0 : pick([1, 2, 4, 16]) * GiB,
      gpus: queue === "gpu" ? pick([1, 1, 2]) : 0,
    };
  });
  return { hosts, jobs, queues };
}

function saturated(): Fixture {
  const r = rng(3);
  const hosts = Array.from({ length: HOSTS }, (_, i): SchedHost => ({
    hostId: i + 1, hostname: `node-${i}`, state: "ok", ncpus: 32, memBytes: 128 * GiB, gpus: 0,
    load1: Math.round(r() * 128) / 4, used: { cpus: 31, memBytes: Math.floor(r() * 120 * GiB), gpus: 0 },
  }));
  const jobs = Array.from({ length: JOBS }, (_, i): SchedJob => ({
    id: i + 1, queue: "default", priority: Math.floor(r() * 3), notBeforeMs: 0,
    cpus: 1 + Math.floor(r() * 4), memBytes: Math.floor(r() * 16 * GiB), gpus: 0, // ~10,000 distinct requests
  }));
  return { hosts, jobs, queues: new Map([["default", q("default")]]) };
}

function membound(): Fixture {
  const r = rng(4);
  const hosts = Array.from({ length: HOSTS }, (_, i): SchedHost => ({
    hostId: i + 1, hostname: `node-${i}`, state: "ok", ncpus: 64, memBytes: 64 * GiB, gpus: 0,
    load1: r() * 64, used: { cpus: Math.floor(r() * 32), memBytes: Math.floor((56 + r() * 8) * GiB), gpus: 0 },
  }));
  const jobs = Array.from({ length: JOBS }, (_, i): SchedJob => ({
    id: i + 1, queue: "default", priority: 0, notBeforeMs: 0, cpus: 1 + Math.floor(r() * 3), memBytes: Math.floor(r() * 4 * GiB), gpus: 0,
  }));
  return { hosts, jobs, queues: new Map([["default", q("default")]]) };
}

let checksum = 0;

/** The floor: one pass over the same arrays, a placement object per job, on its round-robin host. */
function bareLoop(f: Fixture): number {
  const out: { jobId: number; hostId: number }[] = [];
  const hosts = f.hosts;
  let fits = 0;
  for (let i = 0; i < f.jobs.length; i++) {
    const j = f.jobs[i]!;
    const h = hosts[i % hosts.length]!;
    if (h.ncpus - h.used.cpus >= j.cpus) fits++;
    out.push({ jobId: j.id, hostId: h.hostId });
  }
  checksum += out.length + fits;
  return out.length;
}

function round(f: Fixture): number {
  const r = schedule(f.jobs, f.hosts, f.queues, NOW);
  checksum += r.placements.length + r.waiting.size;
  return r.placements.length;
}

/** Runs `body` repeatedly for `secs` (after a warm-up); per-run milliseconds and the last run's output. */
function measure(body: () => number, secs: number): { ms: number[]; out: number } {
  const warmEnd = performance.now() + Math.min(500, secs * 200);
  while (performance.now() < warmEnd) body();
  const ms: number[] = [];
  let out = 0;
  const end = performance.now() + secs * 1000;
  while (performance.now() < end || ms.length < 5) {
    const t0 = performance.now();
    out = body();
    ms.push(performance.now() - t0);
  }
  return { ms, out };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const rows: Record<string, unknown>[] = [];
console.log(`lava scheduler bench: Bun ${Bun.version}, ${JOBS} pending jobs × ${HOSTS} hosts, ${SECONDS} s per measurement\n`);
console.log(`${"fixture".padEnd(10)} ${"placed".padStart(7)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"placements/s".padStart(14)} ${"baseline jobs/s".padStart(16)} ${"ratio".padStart(8)}`);
for (const [name, make] of [["spread", spread], ["mixed", mixed], ["saturated", saturated], ["membound", membound]] as const) {
  const f = make();
  const base = measure(() => bareLoop(f), SECONDS);
  const sched = measure(() => round(f), SECONDS);
  const baseMs = percentile(base.ms, 50);
  const p50 = percentile(sched.ms, 50);
  const p99 = percentile(sched.ms, 99);
  const placementsPerSec = sched.out / (p50 / 1000);
  const baselineJobsPerSec = base.out / (baseMs / 1000);
  const row = {
    fixture: name, jobs: JOBS, hosts: HOSTS, placed: sched.out, rounds: sched.ms.length,
    roundMsP50: Number(p50.toFixed(3)), roundMsP99: Number(p99.toFixed(3)),
    placementsPerSec: Math.round(placementsPerSec), baselineMsP50: Number(baseMs.toFixed(4)),
    baselineJobsPerSec: Math.round(baselineJobsPerSec), ratio: Number((placementsPerSec / baselineJobsPerSec).toFixed(5)),
  };
  rows.push(row);
  console.log(
    `${name.padEnd(10)} ${String(sched.out).padStart(7)} ${p50.toFixed(2).padStart(8)} ${p99.toFixed(2).padStart(8)} ${fmt(placementsPerSec).padStart(14)} ${fmt(baselineJobsPerSec).padStart(16)} ${row.ratio.toFixed(4).padStart(8)}`,
  );
}
console.log(`\nchecksum ${checksum}`);
const path = writeResult(flags.smoke ? "scheduler-smoke" : "scheduler", { smoke: flags.smoke, secondsPerMeasurement: SECONDS, fixtures: rows, checksum }, flags.out);
console.log(`wrote ${path}`);
