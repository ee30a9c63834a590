/**
 * The edge: the only file in this folder that does I/O. readFileSync is right
 * for /proc: the files are small, generated in memory, and never block on disk.
 */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseLoadavg } from "./loadavg.ts";
import { parseMeminfo } from "./meminfo.ts";
import { buildReport, type JobCounts, type ProcLoadReport, type ProcSample } from "./report.ts";
import { fail, ok, type ProcResult } from "./result.ts";
import { parseStat } from "./stat.ts";

export const DEFAULT_PROC_ROOT = "/proc";

/** Reads and parses one file under root; errors name the file's path. */
function readParsed<T>(root: string, name: string, parse: (text: string) => ProcResult<T>): ProcResult<T> {
  const path = join(root, name);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(`cannot read ${path}: ${code ?? (e instanceof Error ? e.message : String(e))}`);
  }
  const r = parse(text);
  // Parser errors start with the file's name ("meminfo: …"): replace it with the full path.
  return r.ok ? r : fail(`${path}: ${r.error.startsWith(`${name}: `) ? r.error.slice(name.length + 2) : r.error}`);
}

/** Reads loadavg, meminfo and stat under root (the agent's --proc-root). Never throws. */
export function readProcSample(root: string = DEFAULT_PROC_ROOT): ProcResult<ProcSample> {
  const loadavg = readParsed(root, "loadavg", parseLoadavg);
  if (!loadavg.ok) return loadavg;
  const meminfo = readParsed(root, "meminfo", parseMeminfo);
  if (!meminfo.ok) return meminfo;
  const stat = readParsed(root, "stat", parseStat);
  if (!stat.ok) return stat;
  return ok({ loadavg: loadavg.value, meminfo: meminfo.value, stat: stat.value });
}

/**
 * Keeps the previous good sample, so each report's cpu percentages cover the
 * interval since the last successful call (the first call's: since boot).
 * A failed read leaves the previous sample in place.
 */
export class ProcSampler {
  private prev: ProcSample | null = null;

  constructor(readonly root: string = DEFAULT_PROC_ROOT) {}

  sample(jobs: JobCounts, flags: number): ProcResult<ProcLoadReport> {
    const r = readProcSample(this.root);
    if (!r.ok) return r;
    const report = buildReport(r.value, this.prev, jobs, flags);
    this.prev = r.value;
    return ok(report);
  }
}

export interface HardwareInfo {
  ncpus: number;
  memBytes: number;
}

/**
 * CPU count and total memory, sent when the agent registers. From /proc under
 * root when it can be read (so --proc-root points at the host being
 * described), else from the runtime.
 */
export function hardwareInfo(root: string = DEFAULT_PROC_ROOT): HardwareInfo {
  const stat = readParsed(root, "stat", parseStat);
  const meminfo = readParsed(root, "meminfo", parseMeminfo);
  const fromProcCpus = stat.ok ? stat.value.cpuCount : 0;
  const fromProcMem = meminfo.ok ? meminfo.value.memTotal : 0;
  return {
    ncpus: fromProcCpus > 0 ? fromProcCpus : runtimeCpus(),
    memBytes: fromProcMem > 0 ? fromProcMem : totalmem(),
  };
}

function runtimeCpus(): number {
  const n = typeof navigator !== "undefined" ? navigator.hardwareConcurrency : 0;
  if (Number.isInteger(n) && n > 0) return n;
  return Math.max(1, cpus().length);
}
