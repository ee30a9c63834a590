/**
 * Plain-text output for people, in the manner of `lsload` and `sinfo`:
 * aligned columns, numbers right-aligned, a header row, no trailing spaces,
 * and compact units. Pure functions; no I/O.
 */

export type Align = "left" | "right";

export interface Column {
  title: string;
  /** Numbers read best right-aligned; default left. */
  align?: Align;
}

export interface TableOptions {
  /** Spaces between columns; default 2. */
  gap?: number;
  /** Print the header row; default true. */
  header?: boolean;
}

/** Control characters from a remote value (a hostname, an OS string) would break the layout. */
const sanitize = (cell: string) => cell.replace(/[\u0000-\u001f\u007f]/g, "?");

/** Lines of an aligned table, joined by "\n" (no final newline). */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[], opts: TableOptions = {}): string {
  const gap = " ".repeat(opts.gap ?? 2);
  const body = rows.map((row) => {
    if (row.length > columns.length) throw new Error(`table row has ${row.length} cells for ${columns.length} columns`);
    return columns.map((_, i) => sanitize(row[i] ?? ""));
  });
  const all = opts.header === false ? body : [columns.map((c) => c.title), ...body];
  const widths = columns.map((_, i) => Math.max(0, ...all.map((r) => r[i]!.length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (columns[i]!.align === "right" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join(gap)
        .trimEnd(),
    )
    .join("\n");
}

const MISSING = "-";
const BYTE_UNITS = ["B", "K", "M", "G", "T", "P", "E"] as const;

const isNum = (n: number | null | undefined): n is number => typeof n === "number" && Number.isFinite(n);

/** Bytes in powers of 1024: "512B", "7.8G", "512M", "15G"; one decimal below 10 units. */
export function formatBytes(n: number | null | undefined): string {
  if (!isNum(n)) return MISSING;
  if (n < 0) return "-" + formatBytes(-n);
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)}B`;
  if (value < 9.95) return `${value.toFixed(1)}${BYTE_UNITS[unit]}`;
  const whole = Math.round(value);
  if (whole >= 1024 && unit < BYTE_UNITS.length - 1) return `1.0${BYTE_UNITS[unit + 1]}`;
  return `${whole}${BYTE_UNITS[unit]}`;
}

/** A percentage: formatPercent(12.3) → "12%", formatPercent(0.25, 1) → "0.3%". */
export function formatPercent(p: number | null | undefined, digits = 0): string {
  if (!isNum(p)) return MISSING;
  return `${p.toFixed(digits)}%`;
}

/** Time since something, coarse like `ps`: "3s", "2m", "5h", "3d" (hours up to 47). */
export function formatAge(ms: number | null | undefined): string {
  if (!isNum(ms)) return MISSING;
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** A load average: "0.52". */
export function formatLoad(x: number | null | undefined): string {
  return isNum(x) ? x.toFixed(2) : MISSING;
}

/** A count: "12"; fractions are rounded. */
export function formatCount(n: number | null | undefined): string {
  return isNum(n) ? String(Math.round(n)) : MISSING;
}

/**
 * A point in time (ISO 8601 or epoch ms), compact and in UTC:
 * "2026-11-22 21:04", or with `seconds` "2026-11-22 21:04:05". A string that
 * is not a time is shown as it is, so an odd value is still visible.
 */
export function formatTime(t: string | number | null | undefined, seconds = false): string {
  if (t === null || t === undefined || t === "") return MISSING;
  const ms = typeof t === "number" ? t : Date.parse(t);
  // ±8.64e15 ms is the range a Date can hold; beyond it toISOString throws.
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return typeof t === "string" ? t : MISSING;
  const iso = new Date(ms).toISOString(); // 2026-11-22T21:04:05.123Z
  return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)}`;
}

/** Text cut to `width` characters, the last one "…" when something was cut. */
export function truncate(text: string, width: number): string {
  if (width < 1) throw new Error(`truncate width must be at least 1, got ${width}`);
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
