/** /proc/stat: the aggregate "cpu " line, the per-CPU "cpuN" lines, procs_running/procs_blocked. */
import { fail, ok, parseCount, snippet, type ProcResult } from "./result.ts";

/**
 * Cumulative CPU time since boot, in jiffies (USER_HZ ticks), summed over all
 * CPUs. Columns a kernel does not print are 0: 2.4 has only the first four,
 * 2.6.0 adds iowait/irq/softirq, 2.6.11 adds steal.
 */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

export interface Stat {
  total: CpuTimes;
  /** Number of cpuN lines: the CPUs online when the file was read (0 if the file has none). */
  cpuCount: number;
  procsRunning?: number;
  procsBlocked?: number;
}

/** In the kernel's column order. guest and guest_nice (2.6.24+, 2.6.33+) follow; they are already counted in user and nice. */
export const CPU_COLUMNS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"] as const satisfies readonly (keyof CpuTimes)[];

/** The fewest columns any kernel prints (2.4: user nice system idle). */
const CPU_COLUMNS_MIN = 4;

export const ZERO_CPU_TIMES: Readonly<CpuTimes> = Object.freeze({ user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 });

export function parseStat(text: string): ProcResult<Stat> {
  let total: CpuTimes | undefined;
  let cpuCount = 0;
  let procsRunning: number | undefined;
  let procsBlocked: number | undefined;
  for (const line of text.split("\n")) {
    // Skip the long intr/softirq lines without splitting them.
    if (!/^\s*(?:cpu|procs_)/.test(line)) continue;
    const fields = line.trim().split(/\s+/);
    const name = fields[0]!;
    if (name === "cpu") {
      if (total !== undefined) continue; // first aggregate line wins
      const cols = fields.slice(1);
      if (cols.length < CPU_COLUMNS_MIN) return fail(`stat: cpu line has ${cols.length} columns, expected at least ${CPU_COLUMNS_MIN}: ${snippet(line)}`);
      const times = { ...ZERO_CPU_TIMES };
      for (const [i, column] of CPU_COLUMNS.entries()) {
        const f = cols[i];
        if (f === undefined) break;
        const n = parseCount(f);
        if (n === null) return fail(`stat: cpu ${column} ${snippet(f)} is not a non-negative integer`);
        times[column] = n;
      }
      total = times;
    } else if (/^cpu\d+$/.test(name)) {
      cpuCount++;
    } else if (name === "procs_running" || name === "procs_blocked") {
      const n = parseCount(fields[1] ?? "");
      if (n === null) continue; // optional lines: ignore if odd
      if (name === "procs_running") procsRunning ??= n;
      else procsBlocked ??= n;
    }
  }
  if (total === undefined) return fail("stat: aggregate cpu line missing");
  const stat: Stat = { total, cpuCount };
  if (procsRunning !== undefined) stat.procsRunning = procsRunning;
  if (procsBlocked !== undefined) stat.procsBlocked = procsBlocked;
  return ok(stat);
}
