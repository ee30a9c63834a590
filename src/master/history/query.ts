/**
 * Answers of the history API (docs/api.md "History"): the query string
 * checked, the tier chosen for the span, points regrouped to the step
 * asked for, one host's series or every host's, or their summary across
 * hosts. Pure: the reader and the clock come in as arguments.
 */
import { METRICS, ROWS, TIERS, metricIndex, type Cf, type SeriesRead } from "../../history/index.ts";
import { parseWhen } from "../../control/when.ts";
import { HttpError } from "../http/errors.ts";

/** Metrics computed from a kept one: `load1PerCpu` is load1 over the host's cpu count (the heatmap's colour). */
const DERIVED: Record<string, { base: string; perCpu: true }> = { load1PerCpu: { base: "load1", perCpu: true } };

export const HISTORY_METRIC_NAMES: readonly string[] = [...METRICS.map((m) => m.name), ...Object.keys(DERIVED)];

/** Longest span a query may cover: the last tier's whole ring. */
const SPAN_MS_MAX = TIERS[TIERS.length - 1]!.stepS * 1000 * ROWS;
/** Host names one cluster query may list. */
export const HOSTS_PARAM_MAX = 1000;

export interface HistoryQuery {
  metric: string;
  /** Index of the kept metric read (the base of a derived one). */
  index: number;
  perCpu: boolean;
  fromMs: number;
  toMs: number;
  /** Seconds per point asked for (null: the tier's own). */
  stepS: number | null;
  tier: number;
}

const bad = (detail: string) => new HttpError(400, "bad_request", detail);

/** `metric` (default load1), `since` (default 1h) and `until` (default now) as ISO 8601, epoch ms or a duration back, `step` in seconds. */
export function parseHistoryQuery(q: URLSearchParams, nowMs: number): HistoryQuery {
  const metric = q.get("metric") ?? "load1";
  const derived = DERIVED[metric];
  const index = metricIndex(derived?.base ?? metric);
  if (index < 0) throw bad(`metric: one of ${HISTORY_METRIC_NAMES.join(", ")}; got '${metric.slice(0, 100)}'`);
  const when = (name: string, dflt: number) => {
    const raw = q.get(name);
    if (raw === null || raw === "") return dflt;
    const t = parseWhen(raw, nowMs);
    if (t === null) throw bad(`${name}: ISO 8601, epoch ms, or a duration back from now like 30m, 24h, 7d; got '${raw.slice(0, 100)}'`);
    return t;
  };
  const toMs = Math.min(when("until", nowMs), nowMs);
  const fromMs = when("since", nowMs - 3_600_000);
  if (fromMs >= toMs) throw bad("since must be before until (and before now)");
  if (toMs - fromMs > SPAN_MS_MAX) throw bad(`the span is at most ${SPAN_MS_MAX / 86_400_000} days (the history kept)`);
  const rawStep = q.get("step");
  let stepS: number | null = null;
  if (rawStep !== null && rawStep !== "") {
    stepS = Number(rawStep);
    if (!Number.isInteger(stepS) || stepS < 1 || stepS > 31_536_000) throw bad(`step: whole seconds from 1 to 31536000; got '${rawStep.slice(0, 100)}'`);
  }
  return { metric, index, perCpu: derived?.perCpu === true, fromMs, toMs, stepS, tier: chooseTier(fromMs, toMs, stepS) };
}

/**
 * The finest tier whose ring covers the span; a coarser one when the step
 * asked for is at least its step (fewer points to read and regroup).
 */
export function chooseTier(fromMs: number, toMs: number, stepS: number | null): number {
  let tier = TIERS.findIndex((t) => t.stepS * 1000 * t.rows >= toMs - fromMs);
  if (tier < 0) tier = TIERS.length - 1;
  if (stepS !== null) while (tier + 1 < TIERS.length && TIERS[tier + 1]!.stepS <= stepS) tier++;
  return tier;
}

/** What the file gives for one host. */
export type SeriesReader = (metric: number, cf: Cf, tier: number, fromMs: number, toMs: number) => SeriesRead | null;

export interface Points {
  stepS: number;
  startMs: number;
  avg: Float64Array;
  /** The peak (max) or trough (min) the metric keeps, if any. */
  extra: { cf: "min" | "max"; values: Float64Array } | null;
}

/** One host's points for a query: read from the tier, regrouped to the step, divided by `ncpus` for a per-cpu metric. */
export function hostPoints(read: SeriesReader, q: HistoryQuery, ncpus: number): Points | null {
  const def = METRICS[q.index]!;
  const avg = read(q.index, "avg", q.tier, q.fromMs, q.toMs);
  if (!avg) return null;
  const extraCf = def.cfs.find((c): c is "min" | "max" => c !== "avg") ?? null;
  const extraRead = extraCf ? read(q.index, extraCf, q.tier, q.fromMs, q.toMs) : null;
  const tierStepS = TIERS[q.tier]!.stepS;
  const factor = q.stepS === null ? 1 : Math.max(1, Math.round(q.stepS / tierStepS));
  const div = q.perCpu ? Math.max(1, ncpus) : 1;
  const g = regroup(avg, factor, "avg", div);
  return {
    stepS: tierStepS * factor,
    startMs: g.startMs,
    avg: g.values,
    extra: extraCf && extraRead ? { cf: extraCf, values: regroup(extraRead, factor, extraCf, div).values } : null,
  };
}

/**
 * Points of `factor` buckets each, aligned to multiples of the new step:
 * the mean of the known averages, the max of maxima, the min of minima; a
 * point with nothing known stays a gap.
 */
export function regroup(r: SeriesRead, factor: number, cf: Cf, div = 1): { startMs: number; values: Float64Array } {
  const first = Math.round(r.startMs / r.stepMs);
  if (factor === 1) {
    const values = div === 1 ? r.values : r.values.map((x) => x / div);
    return { startMs: r.startMs, values };
  }
  const g0 = Math.floor(first / factor);
  const gN = Math.floor((first + r.values.length - 1) / factor);
  const n = Math.max(0, gN - g0 + 1);
  const out = new Float64Array(n).fill(NaN);
  const count = new Float64Array(n);
  for (let i = 0; i < r.values.length; i++) {
    const v = r.values[i]!;
    if (v !== v) continue;
    const k = Math.floor((first + i) / factor) - g0;
    const c = count[k]!;
    if (cf === "avg") out[k] = c === 0 ? v : out[k]! + v;
    else if (c === 0 || (cf === "max" ? v > out[k]! : v < out[k]!)) out[k] = v;
    count[k] = c + 1;
  }
  for (let k = 0; k < n; k++) {
    if (count[k] === 0) continue;
    if (cf === "avg") out[k] = out[k]! / count[k]!;
    out[k] = out[k]! / div;
  }
  return { startMs: g0 * factor * r.stepMs, values: out };
}

/** JSON for a series: 4 significant digits (binary16 keeps about 3), gaps as null. */
export function jsonValues(v: Float64Array): (number | null)[] {
  const out: (number | null)[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    out[i] = x !== x ? null : x === 0 ? 0 : Number(x.toPrecision(4));
  }
  return out;
}

/** The fields every history answer starts with. */
export function seriesHead(q: HistoryQuery, p: { stepS: number; startMs: number; points: number }) {
  const def = METRICS[q.index]!;
  return {
    metric: q.metric,
    unit: q.perCpu ? "" : def.unit,
    tier: TIERS[q.tier]!.name,
    step: p.stepS,
    start: p.startMs,
    end: p.startMs + p.points * p.stepS * 1000,
    points: p.points,
  };
}

/** Percentiles across hosts per point: min, avg, max, p50, p90, p99 of the hosts' averages, and how many hosts had a value. */
export function summarize(perHost: Float64Array[], points: number) {
  const keys = ["count", "min", "avg", "max", "p50", "p90", "p99"] as const;
  const out = Object.fromEntries(keys.map((k) => [k, new Float64Array(points).fill(NaN)])) as Record<(typeof keys)[number], Float64Array>;
  const col = new Float64Array(perHost.length);
  for (let i = 0; i < points; i++) {
    let n = 0;
    let sum = 0;
    for (const s of perHost) {
      const v = s[i]!;
      if (v === v) {
        col[n++] = v;
        sum += v;
      }
    }
    out.count[i] = n;
    if (n === 0) continue;
    const sorted = col.subarray(0, n).sort();
    const at = (p: number) => sorted[Math.min(n - 1, Math.floor((p / 100) * n))]!;
    out.min[i] = sorted[0]!;
    out.max[i] = sorted[n - 1]!;
    out.avg[i] = sum / n;
    out.p50[i] = at(50);
    out.p90[i] = at(90);
    out.p99[i] = at(99);
  }
  return out;
}

/** `hosts=a,b,c`: at most HOSTS_PARAM_MAX names. */
export function hostsParam(q: URLSearchParams): string[] | null {
  const raw = q.get("hosts");
  if (raw === null || raw === "") return null;
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length > HOSTS_PARAM_MAX) throw bad(`hosts: at most ${HOSTS_PARAM_MAX} names`);
  return names;
}

/** `top=N`: the N hosts with the highest peak over the span. */
export function topParam(q: URLSearchParams): number | null {
  const raw = q.get("top");
  if (raw === null || raw === "") return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw bad(`top: a whole number from 1 to 100000; got '${raw.slice(0, 100)}'`);
  return n;
}
