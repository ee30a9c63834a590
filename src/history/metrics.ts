/**
 * What the master keeps history of (docs/history.md): each metric, the
 * group of samples it arrives with, how it is stored, and whether a peak
 * (max) or a trough (min) is kept beside the average. Pure.
 *
 * Values are stored as IEEE 754 binary16 (about 3 significant digits,
 * largest 65504) in a unit chosen per metric so that every real value fits:
 * memory in GiB (up to 64 TiB), rates in MiB/s (up to 64 GiB/s). A value
 * above the largest is kept as the largest. A graph needs no more precision
 * than that, and it is a quarter of rrdtool's 8-byte doubles.
 */
import type { LoadReport } from "../wire/index.ts";

/** Samples that arrive together and share one clock of buckets. */
export const GROUP_REPORT = 0;
export const GROUP_TELEMETRY = 1;
export const GROUPS = 2;

export type Cf = "avg" | "min" | "max";
export const CFS: readonly Cf[] = ["avg", "min", "max"];

export interface MetricDef {
  name: string;
  group: typeof GROUP_REPORT | typeof GROUP_TELEMETRY;
  /** What the API answers in (stored value × scale). */
  unit: "" | "percent" | "bytes" | "bytes/s" | "count";
  /** Stored = value / scale. */
  scale: number;
  /** The consolidations kept: "avg" always, plus "max" or "min" where a peak or a trough matters. */
  cfs: readonly Cf[];
  help: string;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;

const m = (name: string, group: MetricDef["group"], unit: MetricDef["unit"], scale: number, extra: "max" | "min" | null, help: string): MetricDef => ({
  name,
  group,
  unit,
  scale,
  cfs: extra ? ["avg", extra] : ["avg"],
  help,
});

/**
 * The report's fields (design §2) in history: ncpus and flags are not
 * (ncpus is the host's hardware, shown as it is now). The order is the
 * order in the file: appending is a new layout version.
 */
export const REPORT_METRICS = [
  m("load1", GROUP_REPORT, "", 1, "max", "1-minute load average"),
  m("load5", GROUP_REPORT, "", 1, null, "5-minute load average"),
  m("load15", GROUP_REPORT, "", 1, null, "15-minute load average"),
  m("cpuUser", GROUP_REPORT, "percent", 1, "max", "user CPU, percent of all CPUs"),
  m("cpuSys", GROUP_REPORT, "percent", 1, "max", "system CPU, percent of all CPUs"),
  m("cpuIdle", GROUP_REPORT, "percent", 1, "min", "idle CPU, percent of all CPUs (its min is the busiest moment)"),
  m("memUsed", GROUP_REPORT, "bytes", GiB, "max", "memory in use"),
  m("memFree", GROUP_REPORT, "bytes", GiB, "min", "memory available"),
  m("swapUsed", GROUP_REPORT, "bytes", GiB, "max", "swap in use"),
  m("swapFree", GROUP_REPORT, "bytes", GiB, null, "swap free"),
  m("procsTotal", GROUP_REPORT, "count", 1, null, "processes"),
  m("jobsRunning", GROUP_REPORT, "count", 1, null, "lava jobs running"),
  m("jobsPending", GROUP_REPORT, "count", 1, null, "lava jobs pending on the host"),
] as const satisfies readonly MetricDef[];

/** Numeric parts of the agent's telemetry (every 60 s by default). */
export const TELEMETRY_METRICS = [
  m("netRx", GROUP_TELEMETRY, "bytes/s", MiB, "max", "network received, all interfaces but loopback"),
  m("netTx", GROUP_TELEMETRY, "bytes/s", MiB, "max", "network sent, all interfaces but loopback"),
  m("diskRead", GROUP_TELEMETRY, "bytes/s", MiB, "max", "disk read, all whole disks"),
  m("diskWrite", GROUP_TELEMETRY, "bytes/s", MiB, "max", "disk written, all whole disks"),
  m("fsUsed", GROUP_TELEMETRY, "percent", 1, "max", "use of the fullest local filesystem"),
  m("gpuUtil", GROUP_TELEMETRY, "percent", 1, null, "GPU utilisation, mean over the host's GPUs"),
] as const satisfies readonly MetricDef[];

export const METRICS: readonly MetricDef[] = [...REPORT_METRICS, ...TELEMETRY_METRICS];
export type MetricName = (typeof REPORT_METRICS)[number]["name"] | (typeof TELEMETRY_METRICS)[number]["name"];

/** The load report fields that have history, in REPORT_METRICS order. */
export const REPORT_HISTORY_FIELDS = REPORT_METRICS.map((x) => x.name) as readonly (keyof LoadReport)[];

export const metricIndex = (name: string): number => METRICS.findIndex((x) => x.name === name);

/** Metrics of one group, with their index among all metrics. */
export function groupMetrics(group: number): { def: MetricDef; index: number }[] {
  return METRICS.map((def, index) => ({ def, index })).filter((x) => x.def.group === group);
}

/** One series is one metric's one consolidation. */
export interface SeriesDef {
  metric: number;
  cf: Cf;
}

export const SERIES: readonly SeriesDef[] = METRICS.flatMap((def, metric) => def.cfs.map((cf) => ({ metric, cf })));

export const seriesIndex = (metric: number, cf: Cf): number => SERIES.findIndex((s) => s.metric === metric && s.cf === cf);
