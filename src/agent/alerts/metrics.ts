/**
 * The values alert rules are evaluated on, from the agent's own samples.
 * Pure. Percentages are 0-100.
 *
 * - cpu: user + sys over the interval since the previous sample; absent for
 *   the first sample (its delta would be the average since boot, which says
 *   nothing about now).
 * - mem: (MemTotal − MemAvailable) / MemTotal, as in the load reports.
 * - swap: used / total swap; 0 on a host without swap.
 * - load1, load1PerCpu (load1 / ncpus).
 * - disk: the fullest real local filesystem (health/disks.ts); absent if none
 *   could be read.
 */
import type { ProcLoadReport } from "../procfs/index.ts";
import type { MetricValues } from "./rules.ts";

export function alertMetrics(report: ProcLoadReport, opts: { cpuValid: boolean; diskPercent: number | null }): MetricValues {
  const memTotal = report.memUsed + report.memFree;
  const swapTotal = report.swapUsed + report.swapFree;
  const values: MetricValues = {
    mem: memTotal > 0 ? (report.memUsed / memTotal) * 100 : 0,
    swap: swapTotal > 0 ? (report.swapUsed / swapTotal) * 100 : 0,
    load1: report.load1,
    load1PerCpu: report.load1 / Math.max(1, report.ncpus),
  };
  if (opts.cpuValid) values.cpu = report.cpuUser + report.cpuSys;
  if (opts.diskPercent !== null) values.disk = opts.diskPercent;
  return values;
}
