/**
 * Turning readings into health checks (`{status, detail}`). Pure.
 *
 * Thresholds are "at or above": with diskWarn 80 a filesystem 80 % full is a
 * warning. Disk use is computed as df does, used / (used + available to
 * unprivileged users), so the figure matches what an operator sees in
 * `df -h`; memory use is (MemTotal − MemAvailable) / MemTotal, as in the
 * load reports.
 */
import type { Health } from "../../control/index.ts";
import type { Meminfo } from "../procfs/index.ts";

/** One entry of `health.checks` (control/messages.ts). */
export type Check = Health["checks"][string];
export type CheckStatus = Check["status"];

/** Detail strings are at most this long (HealthSchema allows 2000). */
export const DETAIL_CHARS_MAX = 500;

/** What fs.statfsSync returns that matters here (counts of `bsize` blocks). */
export interface StatfsLike {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
}

export interface DiskUsage {
  mountpoint: string;
  /** 0-100, as df computes it. */
  usedPercent: number;
  /** Available to unprivileged users. */
  freeBytes: number;
  totalBytes: number;
}

export interface Thresholds {
  warn: number;
  crit: number;
}

export function thresholdStatus(percent: number, t: Thresholds): CheckStatus {
  if (!Number.isFinite(percent)) return "unknown";
  if (percent >= t.crit) return "critical";
  if (percent >= t.warn) return "warning";
  return "ok";
}

export function diskUsage(mountpoint: string, s: StatfsLike): DiskUsage {
  const used = Math.max(0, s.blocks - s.bfree);
  const room = used + Math.max(0, s.bavail);
  return { mountpoint, usedPercent: room > 0 ? (used / room) * 100 : 0, freeBytes: Math.max(0, s.bavail) * s.bsize, totalBytes: s.blocks * s.bsize };
}

/** "81% used, 12.3 GiB free" */
export function diskCheck(d: DiskUsage, t: Thresholds): Check {
  return { status: thresholdStatus(d.usedPercent, t), detail: `${Math.round(d.usedPercent)}% used, ${formatBytes(d.freeBytes)} free` };
}

/** "62% used, 3.0 GiB available of 7.8 GiB" */
export function memoryCheck(m: Meminfo, t: Thresholds): Check {
  if (!(m.memTotal > 0)) return { status: "unknown", detail: "MemTotal is 0" };
  const avail = Math.min(Math.max(0, m.memAvailable), m.memTotal);
  const pct = ((m.memTotal - avail) / m.memTotal) * 100;
  return { status: thresholdStatus(pct, t), detail: `${Math.round(pct)}% used, ${formatBytes(avail)} available of ${formatBytes(m.memTotal)}` };
}

/** Nagios plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, anything else (3, a signal) UNKNOWN. */
export function nagiosStatus(exitCode: number | null): CheckStatus {
  switch (exitCode) {
    case 0:
      return "ok";
    case 1:
      return "warning";
    case 2:
      return "critical";
    default:
      return "unknown";
  }
}

/** The first non-empty line of `text`, bounded; "" if none. */
export function firstLine(text: string, maxChars = DETAIL_CHARS_MAX): string {
  const line = text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** 1536 → "1.5 KiB"; binary units, one decimal. */
export function formatBytes(n: number): string {
  let v = Math.max(0, n);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${UNITS[i]}`;
}

/** 93_784_000 → "1d 2h"; the two largest units. */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const parts: [number, string][] = [
    [Math.floor(s / 86400), "d"],
    [Math.floor((s % 86400) / 3600), "h"],
    [Math.floor((s % 3600) / 60), "m"],
    [s % 60, "s"],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first < 0) return "0s";
  return parts
    .slice(first, first + 2)
    .filter(([n], i) => i === 0 || n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(" ");
}
