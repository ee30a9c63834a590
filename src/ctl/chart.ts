/**
 * A terminal line chart in Unicode braille (`lava ctl history`): each
 * character cell holds 2 × 4 dots, so 60 columns show 120 points. Pure:
 * values in, lines of text out.
 *
 * Why braille of our own rather than a library: asciichart (the usual npm
 * choice) draws one column per point with box characters, four times
 * coarser, has no time axis, and would be a dependency for ~100 lines; the
 * dashboard's charts are uPlot's, where a library earns its keep.
 *
 * Gaps (null) stay blank; the y axis starts at 0 (every metric is ≥ 0).
 */

export interface ChartOptions {
  /** Plot width in characters (2 dots each) and height in rows (4 dots each). */
  width: number;
  height: number;
  startMs: number;
  stepMs: number;
  /** Formats an axis value ("2.5", "3.1 GiB", "45 %"). */
  format: (v: number) => string;
  /** Formats a time on the x axis. */
  time: (ms: number) => string;
}

const BRAILLE = 0x2800;
/** Bit of dot (x, y) in a cell, x in 0..1, y in 0..3 from the top. */
const DOT = [
  [0x01, 0x02, 0x04, 0x40],
  [0x08, 0x10, 0x20, 0x80],
];

/** 1, 2, 2.5 or 5 × a power of ten, at least `v` (a round top for the axis). */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v * (1 - 1e-9)) return m * p;
  return 10 * p;
}

/** The points resampled to `n` columns: each column the max of the points it covers (a peak is never averaged away); null if none known. */
export function resample(values: readonly (number | null)[], n: number): (number | null)[] {
  const out: (number | null)[] = [];
  const N = values.length;
  for (let x = 0; x < n; x++) {
    const a = Math.floor((x * N) / n);
    const b = Math.max(a + 1, Math.floor(((x + 1) * N) / n));
    let m: number | null = null;
    for (let i = a; i < b && i < N; i++) {
      const v = values[i];
      if (v !== null && v !== undefined && Number.isFinite(v)) m = m === null ? v : Math.max(m, v);
    }
    out.push(m);
  }
  return out;
}

export function brailleChart(values: readonly (number | null)[], o: ChartOptions): string[] {
  const dotsX = o.width * 2;
  const dotsY = o.height * 4;
  const cols = resample(values, dotsX);
  const known = cols.filter((v): v is number => v !== null);
  const top = niceCeil(known.length ? Math.max(...known) : 0);
  const cells = Array.from({ length: o.height }, () => new Array<number>(o.width).fill(0));
  const set = (x: number, y: number) => {
    const row = cells[Math.floor(y / 4)]!;
    row[Math.floor(x / 2)]! |= DOT[x % 2]![y % 4]!;
  };
  const yOf = (v: number) => Math.min(dotsY - 1, Math.max(0, Math.round((1 - v / top) * (dotsY - 1))));
  let prev: number | null = null;
  cols.forEach((v, x) => {
    if (v === null) {
      prev = null;
      return;
    }
    const y = yOf(v);
    // Joined to the column before, so a steep change is a line, not two dots.
    const from = prev === null ? y : prev;
    for (let yy = Math.min(from, y); yy <= Math.max(from, y); yy++) set(x, yy);
    prev = y;
  });
  const labels = [top, top / 2, 0].map(o.format);
  const lw = Math.max(...labels.map((l) => l.length));
  const lines: string[] = [];
  for (let r = 0; r < o.height; r++) {
    const label = r === 0 ? labels[0]! : r === Math.floor((o.height - 1) / 2) ? labels[1]! : r === o.height - 1 ? labels[2]! : "";
    lines.push(`${label.padStart(lw)} ┤${String.fromCodePoint(...cells[r]!.map((c) => BRAILLE + c))}`);
  }
  lines.push(`${" ".repeat(lw)} └${"─".repeat(o.width)}`);
  // Time labels at the start, middle and end of the x axis.
  const endMs = o.startMs + values.length * o.stepMs;
  const t0 = o.time(o.startMs);
  const t1 = o.time((o.startMs + endMs) / 2);
  const t2 = o.time(endMs);
  const axis = new Array<string>(o.width + 2).fill(" ");
  const put = (at: number, s: string) => {
    for (let i = 0; i < s.length && at + i < axis.length; i++) axis[Math.max(0, at) + i] = s[i]!;
  };
  put(1, t0);
  put(Math.floor((o.width + 2 - t1.length) / 2), t1);
  put(o.width + 2 - t2.length, t2);
  lines.push(`${" ".repeat(lw)}${axis.join("")}`);
  return lines;
}
