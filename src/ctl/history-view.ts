/**
 * `lava ctl history` for people: a title, the braille chart, and the
 * figures a person asks next (now, average, peak and when, gaps). Pure.
 */
import { brailleChart } from "./chart.ts";
import { formatBytes } from "./table.ts";

type Row = Record<string, unknown>;

const nums = (x: unknown): (number | null)[] => (Array.isArray(x) ? x.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : null)) : []);

/** A value in the metric's unit, short. */
export function formatValue(v: number, unit: string): string {
  if (unit === "bytes") return formatBytes(v);
  if (unit === "bytes/s") return `${formatBytes(v)}/s`;
  if (unit === "percent") return `${v < 10 ? v.toFixed(1) : Math.round(v)}%`;
  if (unit === "count") return String(Math.round(v));
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : String(Math.round(v));
}

const pad2 = (n: number) => String(n).padStart(2, "0");
/** Local time: HH:MM for a span up to 36 h, else MM-DD (and the time for spans up to 10 days). */
export function timeLabel(ms: number, spanMs: number): string {
  const d = new Date(ms);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (spanMs <= 36 * 3_600_000) return hm;
  const md = `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  return spanMs <= 10 * 86_400_000 ? `${md} ${hm}` : md;
}

export function historyText(body: Row, columns: number): string {
  const unit = String(body.unit ?? "");
  const step = Number(body.step) * 1000;
  const start = Number(body.start);
  const avg = nums(body.avg);
  const peakCf = Array.isArray(body.max) ? "max" : Array.isArray(body.min) ? "min" : null;
  const peak = peakCf ? nums(body[peakCf]) : avg;
  const span = avg.length * step;
  const fmt = (v: number) => formatValue(v, unit);
  const known = avg.filter((v): v is number => v !== null);
  const title = `${body.host} ${body.metric}${unit ? ` (${unit})` : ""}: ${avg.length} points of ${body.step} s (tier ${body.tier})`;
  if (known.length === 0) return `${title}\nno data in this span (the host reported nothing this master kept)`;
  const width = Math.max(20, Math.min(120, columns - 12));
  const chart = brailleChart(avg, { width, height: 10, startMs: start, stepMs: step, format: fmt, time: (ms) => timeLabel(ms, span) });
  let at = -1;
  peak.forEach((v, i) => {
    if (v !== null && (at < 0 || (peakCf === "min" ? v < peak[at]! : v > peak[at]!))) at = i;
  });
  const last = [...avg].reverse().find((v) => v !== null)!;
  const mean = known.reduce((a, b) => a + b, 0) / known.length;
  const gaps = avg.length - known.length;
  const facts = [
    `now ${fmt(last)}`,
    `average ${fmt(mean)}`,
    at >= 0 ? `${peakCf === "min" ? "lowest" : "peak"} ${fmt(peak[at]!)} at ${timeLabel(start + at * step, span <= 36 * 3_600_000 ? span : 10 * 86_400_000)}` : "",
    gaps ? `${gaps} point${gaps === 1 ? "" : "s"} without data` : "",
  ].filter(Boolean);
  return [title, ...chart, facts.join(", ")].join("\n");
}
