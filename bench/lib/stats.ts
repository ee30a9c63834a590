/** Small descriptive statistics for benchmark figures. */

export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

/** Population variance. */
export function variance(xs: ArrayLike<number>): number {
  if (xs.length === 0) return 0;
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i]! - m) ** 2;
  return s / xs.length;
}

export function max(xs: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i]! > m) m = xs[i]!;
  return m;
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/**
 * Summary of a series of per-window counts: mean, variance / mean (index of
 * dispersion: 1 for a Poisson process, > 1 for bursts, < 1 for more regular
 * than random), and the largest window over the mean.
 */
export interface CountSummary {
  windows: number;
  total: number;
  mean: number;
  indexOfDispersion: number;
  max: number;
  maxOverMean: number;
}

export function summarizeCounts(counts: ArrayLike<number>): CountSummary {
  const m = mean(counts);
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  const mx = counts.length ? max(counts) : 0;
  return {
    windows: counts.length,
    total,
    mean: round(m, 3),
    indexOfDispersion: m > 0 ? round(variance(counts) / m, 4) : 0,
    max: mx,
    maxOverMean: m > 0 ? round(mx / m, 4) : 0,
  };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Seeded uniform [0, 1) generator (mulberry32): simulations replay from a seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");
export const fmtMiB = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
