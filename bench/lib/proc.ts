/**
 * Per-process figures from /proc (Linux): resident memory and CPU time.
 * Used to measure the master from outside, as an operator would.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat times (sysconf(_SC_CLK_TCK)); 100 on every Linux Bun runs on. */
export const CLK_TCK = (() => {
  const r = Bun.spawnSync(["getconf", "CLK_TCK"], { stderr: "ignore" });
  const n = Number(r.stdout.toString().trim());
  return r.exitCode === 0 && n > 0 ? n : 100;
})();

/** VmRSS of a process, in bytes. */
export function rssBytes(pid: number): number {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** utime + stime of a process (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / CLK_TCK;
}

/** Page faults of a process so far (fields 10 and 12 of /proc/<pid>/stat): minor (no disk read) and major. */
export function pageFaults(pid: number): { minor: number; major: number } {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3: minflt (10) is rest[7], majflt (12) rest[9].
  return { minor: Number(rest[7]), major: Number(rest[9]) };
}

/**
 * Sets a process's nice value (`renice`); true if it worked (lowering it
 * needs root). The benchmarks raise the priority of what they measure so
 * that other work on a shared machine does not decide the figures.
 */
export function renice(pid: number, nice: number): boolean {
  const r = Bun.spawnSync(["renice", "-n", String(nice), "-p", String(pid)], { stdout: "ignore", stderr: "ignore" });
  return r.exitCode === 0;
}

/** A sysctl value as text, or null. */
export function sysctl(path: string): string | null {
  try {
    return readFileSync(`/proc/sys/${path}`, "utf8").trim();
  } catch {
    return null;
  }
}

/** A CPU/RSS sample of a process at a wall-clock instant. */
export interface ProcSample {
  atMs: number;
  cpuS: number;
  rssBytes: number;
}

export function sample(pid: number): ProcSample {
  return { atMs: performance.now(), cpuS: cpuSeconds(pid), rssBytes: rssBytes(pid) };
}

/** CPU share between two samples, as a fraction of one core. */
export function cpuShare(a: ProcSample, b: ProcSample): number {
  const wallS = (b.atMs - a.atMs) / 1000;
  return wallS > 0 ? (b.cpuS - a.cpuS) / wallS : 0;
}

/**
 * CPU time of a process in seconds at nanosecond resolution: the sum of
 * /proc/<pid>/task/<tid>/schedstat over its live threads (utime+stime in
 * /proc/<pid>/stat counts 10 ms ticks, too coarse for an idle agent). Falls
 * back to cpuSeconds() where schedstat is missing (kernels without
 * CONFIG_SCHEDSTATS).
 */
export function cpuSecondsFine(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread ended between the listing and the read
      }
    }
    return ns / 1e9;
  } catch {
    return cpuSeconds(pid);
  }
}

/** Resident memory of a process from /proc/<pid>/status: VmRSS and its anonymous and file-backed parts, in bytes. */
export function rssParts(pid: number): { rss: number; anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, "m").exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") + kb("RssShmem") };
}
