/**
 * When an agent sends its load reports (design §2): at its interval, plus a
 * stable per-agent phase offset and a small per-report jitter, so that the
 * arrivals at the master from many agents form a Poisson-like stream with
 * no synchronized bursts, also just after a master switch when every agent
 * registers again at about the same moment.
 *
 * - The offset delays the first report of a session by a fraction of the
 *   interval taken from a hash of the hostname: stable across restarts (a
 *   fleet restarted at once keeps its spread) and uniform across hosts.
 * - Each following report waits interval × (1 ± 10 %), uniform. The mean
 *   period stays the interval; the phases of different agents drift apart
 *   as a random walk, so any alignment left over decays.
 *
 * Pure: no clock, the random source is injected.
 */
import type { Rng } from "./backoff.ts";

/** Per-report jitter: ± this fraction of the interval. */
export const REPORT_JITTER = 0.1;

const utf8 = new TextEncoder();

/**
 * 32-bit hash of a hostname: FNV-1a over its UTF-8 bytes, then the
 * MurmurHash3 finalizer. FNV-1a alone leaves names that differ only in the
 * last character ("node001", "node002") close together in the high bits;
 * the finalizer spreads them over the whole range.
 */
export function hostnameHash32(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of utf8.encode(name)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The agent's stable phase offset, an integer in [0, intervalMs). */
export function phaseOffsetMs(hostname: string, intervalMs: number): number {
  if (!(intervalMs > 0)) return 0;
  return Math.floor((hostnameHash32(hostname) / 2 ** 32) * intervalMs);
}

/** Delay before the next report: intervalMs × (1 ± REPORT_JITTER), uniform, rounded to ms. */
export function nextReportDelayMs(intervalMs: number, rng: Rng): number {
  const r = rng();
  const u = r > 0 ? (r < 1 ? r : 1) : 0;
  return Math.max(1, Math.round(intervalMs * (1 + REPORT_JITTER * (2 * u - 1))));
}
