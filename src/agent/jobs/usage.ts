/**
 * Accounting of a job attempt (docs/jobs.md "Accounting"): wall time, user
 * and system CPU, and the largest resident set.
 *
 * CPU comes from the kernel's rusage of the job's main process when the
 * agent reaps it, which includes every descendant it reaped in turn (what
 * `time` reports). The resident set does not come from there alone: the
 * agent spawns with vfork, and Linux carries the parent's high-water mark
 * into the child's `ru_maxrss` across exec, so a small job would report
 * the agent's own size. So the agent also samples the job's process group
 * from /proc (VmHWM of each member: the peak of each process since its
 * exec, not carried over, and not just its size at the sample) shortly
 * after the start and every second, and the
 * rusage figure counts only when it is above the agent's own high-water
 * mark (then it is the job's). A job shorter than the first sample that
 * stays below the agent's size reports no figure (null).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parsePgrp } from "./records.ts";

export interface Usage {
  elapsedMs: number;
  cpuUserMs: number | null;
  cpuSysMs: number | null;
  maxRssBytes: number | null;
}

/** "VmHWM:    1234 kB" → bytes. */
export function parseVmHwm(status: string): number | null {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

/** VmHWM of one process (`self` for the agent), 0 if it cannot be read. */
export function processHwm(pid: number | "self", procRoot = "/proc"): number {
  try {
    return parseVmHwm(readFileSync(join(procRoot, String(pid), "status"), "utf8")) ?? 0;
  } catch {
    return 0;
  }
}

export function selfHwmBytes(procRoot = "/proc"): number {
  return processHwm("self", procRoot);
}

/** The usage of an ended attempt from what was measured; pure. */
export function attemptUsage(m: { elapsedMs: number; rusage: { userUs: number; sysUs: number; maxRssBytes: number } | null; sampledMaxRss: number; agentHwmBytes: number }): Usage {
  const fromRusage = m.rusage && m.rusage.maxRssBytes > m.agentHwmBytes * 1.05 ? m.rusage.maxRssBytes : 0;
  const rss = Math.max(fromRusage, m.sampledMaxRss);
  return {
    elapsedMs: Math.max(0, Math.round(m.elapsedMs)),
    cpuUserMs: m.rusage ? Math.round(m.rusage.userUs / 1000) : null,
    cpuSysMs: m.rusage ? Math.round(m.rusage.sysUs / 1000) : null,
    maxRssBytes: rss > 0 ? rss : null,
  };
}

/**
 * Peak resident set per process group, from one pass over /proc: for each
 * process whose group is one of `pgids`, its VmHWM. One pass serves every
 * running job.
 */
export function sampleGroups(pgids: ReadonlySet<number>, procRoot = "/proc"): Map<number, number> {
  const out = new Map<number, number>();
  if (pgids.size === 0) return out;
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return out;
  }
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let pg: number | null;
    try {
      pg = parsePgrp(readFileSync(join(procRoot, n, "stat"), "utf8"));
    } catch {
      continue; // gone meanwhile
    }
    if (pg === null || !pgids.has(pg)) continue;
    let hwm: number | null = null;
    try {
      hwm = parseVmHwm(readFileSync(join(procRoot, n, "status"), "utf8"));
    } catch {
      continue;
    }
    if (hwm !== null) out.set(pg, Math.max(out.get(pg) ?? 0, hwm));
  }
  return out;
}
