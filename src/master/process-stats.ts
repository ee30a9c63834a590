/**
 * The master process's own figures for the standard Prometheus `process_*`
 * metrics (the names every Prometheus client library exports, so existing
 * dashboards and alerts work). The edge: reads /proc/self; null fields
 * where a file cannot be read (not Linux, a locked-down /proc).
 */
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessStats {
  /** Unix time the process started, in seconds. */
  startTimeSeconds: number;
  /** User plus system CPU time, in seconds. */
  cpuSecondsTotal: number;
  residentMemoryBytes: number;
  virtualMemoryBytes: number | null;
  openFds: number | null;
  maxFds: number | null;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function openFds(): number | null {
  try {
    // The listing holds the descriptor that reads it; the Go and Python clients count it too.
    return readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}

export function processStats(): ProcessStats {
  const cpu = process.cpuUsage();
  const status = read("/proc/self/status");
  const vm = status ? /^VmSize:\s+(\d+)\s+kB/m.exec(status) : null;
  const limits = read("/proc/self/limits");
  const nofile = limits ? /^Max open files\s+(\d+|unlimited)/m.exec(limits) : null;
  return {
    startTimeSeconds: performance.timeOrigin / 1000,
    cpuSecondsTotal: (cpu.user + cpu.system) / 1e6,
    residentMemoryBytes: process.memoryUsage.rss(),
    virtualMemoryBytes: vm ? Number(vm[1]) * 1024 : null,
    openFds: openFds(),
    maxFds: nofile && nofile[1] !== "unlimited" ? Number(nofile[1]) : null,
  };
}
