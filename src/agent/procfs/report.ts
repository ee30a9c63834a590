/** Turns parsed /proc samples into the load report an agent sends (design §2). */
import { cpuPercent } from "./cpu.ts";
import type { Loadavg } from "./loadavg.ts";
import type { Meminfo } from "./meminfo.ts";
import { ZERO_CPU_TIMES, type Stat } from "./stat.ts";
import type { LoadReport } from "../../wire/index.ts";

/** One reading of /proc, parsed. */
export interface ProcSample {
  loadavg: Loadavg;
  meminfo: Meminfo;
  stat: Stat;
}

/**
 * The wire's `LoadReport`: what the agent sends is exactly what it read. Memory in bytes, cpu* in percent of
 * all CPUs over the interval since the previous sample.
 */
export type ProcLoadReport = LoadReport;

export interface JobCounts {
  running: number;
  pending: number;
}

/**
 * memFree is MemAvailable, not MemFree: what an operator means by free
 * memory is what new work can get without swapping, page cache included.
 * MemFree alone reads near 0 on any busy box with a warm cache. So
 * memUsed = MemTotal − MemAvailable and memUsed + memFree = MemTotal.
 *
 * With no previous sample, cpu* are averages since boot.
 */
export function buildReport(sample: ProcSample, prev: ProcSample | null, jobs: JobCounts, flags: number): ProcLoadReport {
  const { loadavg, meminfo, stat } = sample;
  // Clamp so that a container's inconsistent /proc (available > total) cannot yield negative memory.
  const memFree = clamp(meminfo.memAvailable, meminfo.memTotal);
  const swapFree = clamp(meminfo.swapFree, meminfo.swapTotal);
  const cpu = cpuPercent(prev?.stat.total ?? ZERO_CPU_TIMES, stat.total);
  return {
    load1: loadavg.load1,
    load5: loadavg.load5,
    load15: loadavg.load15,
    memUsed: meminfo.memTotal - memFree,
    memFree,
    swapUsed: meminfo.swapTotal - swapFree,
    swapFree,
    ncpus: stat.cpuCount > 0 ? stat.cpuCount : 1,
    cpuUser: cpu.user,
    cpuSys: cpu.sys,
    cpuIdle: cpu.idle,
    jobsRunning: jobs.running,
    jobsPending: jobs.pending,
    procsTotal: loadavg.total,
    flags,
  };
}

const clamp = (n: number, max: number) => Math.min(Math.max(0, n), Math.max(0, max));
