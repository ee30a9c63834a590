/**
 * Linux /proc for the agent: pure parsers (text in, typed result out; no
 * I/O, no clock) and one thin reader at the edge (reader.ts).
 */
export { cpuPercent, type CpuPercent } from "./cpu.ts";
export { parseLoadavg, type Loadavg } from "./loadavg.ts";
export { parseMeminfo, type Meminfo } from "./meminfo.ts";
export { DEFAULT_PROC_ROOT, hardwareInfo, ProcSampler, readProcSample, type HardwareInfo } from "./reader.ts";
export { buildReport, type JobCounts, type ProcLoadReport, type ProcSample } from "./report.ts";
export type { ProcResult } from "./result.ts";
export { CPU_COLUMNS, parseStat, ZERO_CPU_TIMES, type CpuTimes, type Stat } from "./stat.ts";
