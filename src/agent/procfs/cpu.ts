/** CPU utilisation between two /proc/stat samples. */
import { CPU_COLUMNS, type CpuTimes } from "./stat.ts";

/** Percent of all CPUs over the interval; the three add up to 100. */
export interface CpuPercent {
  user: number;
  sys: number;
  idle: number;
}

const ALL_IDLE: Readonly<CpuPercent> = Object.freeze({ user: 0, sys: 0, idle: 100 });

/**
 * user = user+nice, sys = system+irq+softirq+steal, idle = idle+iowait, each
 * as a share of all jiffies that passed. Steal counts as busy: the host could
 * not run this machine's work, which is what a scheduler needs to know.
 *
 * No elapsed time (same sample twice) or a total that went backwards (the
 * counters were reset, or samples of different hosts were mixed) reads as
 * all idle. A single column that went backwards while the total advanced
 * (the aggregate iowait can, as CPUs go offline) counts as 0 for the
 * interval. Never NaN; always within [0, 100].
 */
export function cpuPercent(prev: CpuTimes, cur: CpuTimes): CpuPercent {
  let rawTotal = 0;
  const d = {} as Record<keyof CpuTimes, number>;
  for (const column of CPU_COLUMNS) {
    const delta = finite(cur[column]) - finite(prev[column]);
    rawTotal += delta;
    d[column] = Math.max(0, delta);
  }
  if (!(rawTotal > 0)) return { ...ALL_IDLE };
  const user = d.user + d.nice;
  const sys = d.system + d.irq + d.softirq + d.steal;
  const idle = d.idle + d.iowait;
  const total = user + sys + idle; // > 0: at least one column rose, since the raw total did
  return { user: pct(user, total), sys: pct(sys, total), idle: pct(idle, total) };
}

const finite = (n: number) => (Number.isFinite(n) ? n : 0);
const pct = (part: number, total: number) => Math.min(100, Math.max(0, (part / total) * 100));
