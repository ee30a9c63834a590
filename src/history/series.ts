/**
 * Round-robin consolidation (RRD-style, like Ganglia's gmetad) on the bytes
 * of a history file (layout.ts). Pure: no clock, no I/O; times come in as
 * arguments and the bytes are whatever the caller mapped.
 *
 * A sample adds to the current bucket of tier 0. When a sample falls in a
 * later bucket, the current one is closed: its average (and min or max)
 * goes into its ring slot, and its sum, count, min and max are folded into
 * the current bucket of every higher tier, which closes the same way when
 * a fold falls into its next bucket. So a report costs one accumulation
 * per metric, whatever the number of tiers.
 *
 * Gaps: a bucket no sample fell in is NaN (a gap, never a zero). Buckets
 * skipped between two samples are gaps, unless the samples are at most
 * `heartbeatMs` apart: then the new sample counts for each of them
 * (rrdtool's heartbeat), so a host reporting every 30 s has no holes in a
 * 15 s tier. A point partly covered is the average of what arrived.
 * A sample older than the current bucket (the clock went back) is refused.
 *
 * Reading includes the current, still open bucket of each tier ("so far").
 */
import { GROUPS, METRICS, SERIES, groupMetrics, type Cf } from "./metrics.ts";
import {
  ACC_F64,
  ACC_OFFSET,
  BLOCK_BYTES,
  GROUP_STATE_F64,
  GROUP_STATE_OFFSET,
  HEADER_BYTES,
  NAME_BYTES_MAX,
  NAME_OFFSET,
  GROUP_SERIES,
  SERIES_COLUMN,
  ringOffset,
  ROWS,
  STEP_MS,
  TIER_COUNT,
} from "./layout.ts";

/** Per metric: its series index for each consolidation, or -1. */
const SERIES_OF: readonly Record<Cf, number>[] = METRICS.map((_, metric) => {
  const out = { avg: -1, min: -1, max: -1 };
  SERIES.forEach((s, i) => {
    if (s.metric === metric) out[s.cf] = i;
  });
  return out;
});
const GROUP_METRICS: readonly number[][] = Array.from({ length: GROUPS }, (_, g) => groupMetrics(g).map((x) => x.index));
const SCALE: readonly number[] = METRICS.map((x) => x.scale);

const STEP0_MS = STEP_MS[0]!;
/** Tier 0 buckets per tier 1 bucket; every higher step is a multiple of tier 1's (checked below). */
const STEPS_PER_TIER1 = STEP_MS[1]! / STEP0_MS;
for (let k = 1; k < TIER_COUNT; k++) {
  if (STEP_MS[k]! % STEP_MS[1]! !== 0 || STEP_MS[1]! % STEP0_MS !== 0) throw new Error("history: every tier's step must be a multiple of tier 1's, and tier 1's of tier 0's");
}
/** f64 between one metric's accumulators and the next's within a tier: a tier's are contiguous (one report touches a few cache lines). */
const ACC_STRIDE = ACC_F64;
/** f64 between a metric's accumulators in one tier and in the next. */
const TIER_ACC = METRICS.length * ACC_F64;
/** u16 offset (in a block) of each group's rows, per tier. */
const RING_AT: readonly (readonly number[])[] = Array.from({ length: GROUPS }, (_, g) => Array.from({ length: TIER_COUNT }, (_, k) => ringOffset(g, k) >>> 1));
/** The first metric of each group: a group's metrics are contiguous in METRICS. */
const GROUP_FIRST: readonly number[] = Array.from({ length: GROUPS }, (_, g) => {
  const ms = groupMetrics(g).map((x) => x.index);
  if (ms.some((m, i) => m !== ms[0]! + i)) throw new Error("history: a group's metrics must be contiguous");
  return ms[0]!;
});

/** Per group, per metric in it: the row columns of its avg, min and max (-1: not kept) and 1/scale. */
const WRITERS = Array.from({ length: GROUPS }, (_, g) => {
  const ms = groupMetrics(g).map((x) => x.index);
  const col = (m: number, cf: Cf) => {
    const i = SERIES.findIndex((x) => x.metric === m && x.cf === cf);
    return i < 0 ? -1 : SERIES_COLUMN[i]!;
  };
  return {
    count: ms.length,
    avg: Int16Array.from(ms, (m) => col(m, "avg")),
    min: Int16Array.from(ms, (m) => col(m, "min")),
    max: Int16Array.from(ms, (m) => col(m, "max")),
    inv: Float64Array.from(ms, (m) => 1 / METRICS[m]!.scale),
  };
});

/** binary16 quiet NaN: a gap. */
const HALF_NAN = 0x7e00;
const f32 = new Float32Array(1);
const f32bits = new Uint32Array(f32.buffer);

/**
 * A number (≥ 0, or NaN) as binary16 bits, rounded to nearest; above the
 * largest finite half (65504) it is that largest. By hand because assigning
 * to a Float16Array is ~15 ns in this engine, several times this.
 */
export function half(v: number): number {
  if (v !== v) return HALF_NAN;
  f32[0] = v;
  const x = f32bits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const e = ((x >>> 23) & 0xff) - 112; // rebias 127 → 15
  const m = x & 0x7fffff;
  if (e >= 31) return sign | 0x7bff;
  if (e <= 0) {
    if (e < -10) return sign;
    const mm = m | 0x800000;
    const shift = 14 - e;
    return sign | ((mm >>> shift) + ((mm >>> (shift - 1)) & 1));
  }
  const h = sign | (e << 10) | (m >>> 13);
  // Round to nearest; a carry into the exponent is the right result (and 0x7bff + 1 would be Infinity: clamp).
  const r = h + ((m >>> 12) & 1);
  return (r & 0x7fff) === 0x7c00 ? sign | 0x7bff : r;
}

export interface SeriesRead {
  /** Start of the first point's bucket, ms since the epoch. */
  startMs: number;
  stepMs: number;
  /** One value per bucket, NaN for a gap. */
  values: Float64Array;
}

export class HistoryCore {
  private bytes: Uint8Array;
  private f64: Float64Array;
  private f16: Float16Array;
  private u16: Uint16Array;
  private u32: Uint32Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.f64 = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 3);
    this.f16 = new Float16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 1);
    this.u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 1);
    this.u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  }

  /** Host blocks the bytes hold. */
  get capacity(): number {
    return Math.floor((this.bytes.byteLength - HEADER_BYTES) / BLOCK_BYTES);
  }

  // ---- blocks -------------------------------------------------------------

  private start(block: number): number {
    return HEADER_BYTES + block * BLOCK_BYTES;
  }

  /** Makes `block` the (empty) history of a host. */
  initBlock(block: number, hostId: number, name: string, createdMs: number): void {
    const s = this.start(block);
    this.bytes.fill(0, s, s + BLOCK_BYTES);
    this.u32[s >>> 2] = hostId;
    const enc = new TextEncoder().encode(name).subarray(0, NAME_BYTES_MAX);
    this.u32[(s >>> 2) + 1] = enc.length;
    this.f64[(s >>> 3) + 1] = createdMs;
    this.bytes.set(enc, s + NAME_OFFSET);
  }

  freeBlock(block: number): void {
    this.u32[this.start(block) >>> 2] = 0;
  }

  /** The host id a block belongs to (0: free). */
  hostIdOf(block: number): number {
    return this.u32[this.start(block) >>> 2]!;
  }

  nameOf(block: number): string {
    const s = this.start(block);
    const len = Math.min(this.u32[(s >>> 2) + 1]!, NAME_BYTES_MAX);
    return new TextDecoder().decode(this.bytes.subarray(s + NAME_OFFSET, s + NAME_OFFSET + len));
  }

  /** Time of the last sample of a group (0: none yet). */
  lastSampleMs(block: number, group: number): number {
    return this.f64[this.groupBase(block, group)]!;
  }

  // ---- writing ------------------------------------------------------------

  private groupBase(block: number, group: number): number {
    return (this.start(block) + GROUP_STATE_OFFSET + group * GROUP_STATE_F64 * 8) >>> 3;
  }
  private accBase(block: number, metric: number, tier: number): number {
    return (this.start(block) + ACC_OFFSET + (tier * METRICS.length + metric) * ACC_F64 * 8) >>> 3;
  }
  /** u16 index of row `slot` of a group's tier. */
  private rowBase(block: number, group: number, tier: number, slot: number): number {
    return (this.start(block) >>> 1) + RING_AT[group]![tier]! + slot * GROUP_SERIES[group]!;
  }

  /**
   * Adds one sample of a group's metrics (`values[i]` for the group's i-th
   * metric in metrics.ts order; NaN = not measured this time). False if it
   * was refused (older than the current bucket).
   */
  record(block: number, group: number, tMs: number, values: ArrayLike<number>, heartbeatMs: number): boolean {
    const f = this.f64;
    const gb = this.groupBase(block, group);
    const b0 = Math.floor(tMs / STEP0_MS);
    const cur0 = f[gb + 1]!;
    if (cur0 === 0) {
      for (let k = 0; k < TIER_COUNT; k++) {
        const b = Math.floor(tMs / STEP_MS[k]!);
        f[gb + 1 + k] = b;
        f[gb + 1 + TIER_COUNT + k] = b;
      }
    } else if (b0 < cur0) {
      return false;
    } else if (b0 > cur0) {
      const fill = tMs - f[gb]! <= heartbeatMs;
      this.closeTier0(block, group, cur0);
      if (fill) {
        // The new sample stands for the buckets since the last one (at most a ring's worth).
        for (let b = Math.max(cur0 + 1, b0 - ROWS); b < b0; b++) {
          this.accumulate(block, group, values);
          this.closeTier0(block, group, b);
        }
      } else {
        for (let b = Math.max(cur0 + 1, b0 - ROWS); b < b0; b++) this.gapSlot(block, group, 0, b);
      }
      f[gb + 1] = b0;
    }
    this.accumulate(block, group, values);
    f[gb] = tMs;
    return true;
  }

  /** The hot path: one sample into tier 0's accumulators (a group's metrics are contiguous, ACC_STRIDE apart). */
  private accumulate(block: number, group: number, values: ArrayLike<number>): void {
    const f = this.f64;
    const count = GROUP_METRICS[group]!.length;
    let a = this.accBase(block, GROUP_FIRST[group]!, 0);
    for (let i = 0; i < count; i++, a += ACC_STRIDE) {
      const v = values[i]!;
      if (v !== v) continue; // NaN: not measured
      const n = f[a + 1]!;
      f[a] = f[a]! + v;
      f[a + 1] = n + 1;
      if (n === 0 || v < f[a + 2]!) f[a + 2] = v;
      if (n === 0 || v > f[a + 3]!) f[a + 3] = v;
    }
  }

  /**
   * Closes tier 0's bucket `b`: its ring slot written, its accumulators
   * folded into tier 1's (closing tier 1's bucket first if `b` is past it)
   * and cleared. Tier 1's closed buckets fold into tiers 2-4 in turn: every
   * step is a multiple of tier 1's, so a report pays for one fold, not four.
   */
  private closeTier0(block: number, group: number, b: number): void {
    const f = this.f64;
    const gb = this.groupBase(block, group);
    const b1 = Math.floor(b / STEPS_PER_TIER1);
    const c1 = f[gb + 2]!;
    if (b1 > c1) {
      this.closeTier1(block, group, c1);
      for (let j = Math.max(c1 + 1, b1 - ROWS); j < b1; j++) this.gapSlot(block, group, 1, j);
      f[gb + 2] = b1;
    }
    this.writeSlot(block, group, 0, b);
    this.fold(block, group, 0, 1, 2);
  }

  /** Closes tier 1's bucket `c1`: tiers 2-4 close theirs first if `c1` is past them, then take its fold. */
  private closeTier1(block: number, group: number, c1: number): void {
    const f = this.f64;
    const gb = this.groupBase(block, group);
    for (let k = 2; k < TIER_COUNT; k++) {
      const bk = Math.floor((c1 * STEP_MS[1]!) / STEP_MS[k]!);
      const ck = f[gb + 1 + k]!;
      if (bk > ck) {
        this.writeSlot(block, group, k, ck);
        this.clear(block, group, k);
        for (let j = Math.max(ck + 1, bk - ROWS); j < bk; j++) this.gapSlot(block, group, k, j);
        f[gb + 1 + k] = bk;
      }
    }
    this.writeSlot(block, group, 1, c1);
    this.fold(block, group, 1, 2, TIER_COUNT);
  }

  /** Adds tier `from`'s accumulators to tiers [to, toEnd) and clears them. */
  private fold(block: number, group: number, from: number, to: number, toEnd: number): void {
    const f = this.f64;
    const count = GROUP_METRICS[group]!.length;
    let a0 = this.accBase(block, GROUP_FIRST[group]!, from);
    for (let i = 0; i < count; i++, a0 += ACC_STRIDE) {
      const n = f[a0 + 1]!;
      if (n > 0) {
        const sum = f[a0]!;
        const min = f[a0 + 2]!;
        const max = f[a0 + 3]!;
        for (let k = to, a = a0 + (to - from) * TIER_ACC; k < toEnd; k++, a += TIER_ACC) {
          const nk = f[a + 1]!;
          f[a] = f[a]! + sum;
          f[a + 1] = nk + n;
          if (nk === 0 || min < f[a + 2]!) f[a + 2] = min;
          if (nk === 0 || max > f[a + 3]!) f[a + 3] = max;
        }
      }
      f[a0] = 0;
      f[a0 + 1] = 0;
      f[a0 + 2] = 0;
      f[a0 + 3] = 0;
    }
  }

  private clear(block: number, group: number, k: number): void {
    const count = GROUP_METRICS[group]!.length;
    let a = this.accBase(block, GROUP_FIRST[group]!, k);
    for (let i = 0; i < count; i++, a += ACC_STRIDE) this.f64.fill(0, a, a + ACC_F64);
  }

  /** Writes the row of bucket `b` of tier `k` from that tier's accumulators. */
  private writeSlot(block: number, group: number, k: number, b: number): void {
    const f = this.f64;
    const h = this.u16;
    const row = this.rowBase(block, group, k, b % ROWS);
    const w = WRITERS[group]!;
    let a = this.accBase(block, GROUP_FIRST[group]!, k);
    for (let i = 0; i < w.count; i++, a += ACC_STRIDE) {
      const n = f[a + 1]!;
      if (n === 0) {
        h[row + w.avg[i]!] = HALF_NAN;
        if (w.min[i]! >= 0) h[row + w.min[i]!] = HALF_NAN;
        if (w.max[i]! >= 0) h[row + w.max[i]!] = HALF_NAN;
        continue;
      }
      const inv = w.inv[i]!;
      h[row + w.avg[i]!] = half((f[a]! / n) * inv);
      if (w.min[i]! >= 0) h[row + w.min[i]!] = half(f[a + 2]! * inv);
      if (w.max[i]! >= 0) h[row + w.max[i]!] = half(f[a + 3]! * inv);
    }
  }

  private gapSlot(block: number, group: number, k: number, b: number): void {
    const row = this.rowBase(block, group, k, b % ROWS);
    this.u16.fill(HALF_NAN, row, row + GROUP_SERIES[group]!);
  }

  // ---- reading ------------------------------------------------------------

  /**
   * One metric's consolidation over [fromMs, toMs] from one tier: a value
   * per bucket (at most ROWS + 1: the ring and the open bucket), NaN where
   * nothing is known. Values are in the metric's API unit.
   */
  read(block: number, metric: number, cf: Cf, tier: number, fromMs: number, toMs: number): SeriesRead {
    const step = STEP_MS[tier]!;
    const jTo = Math.floor(toMs / step);
    const jFrom = Math.max(Math.floor(fromMs / step), jTo - ROWS);
    const n = Math.max(0, jTo - jFrom + 1);
    const values = new Float64Array(n).fill(NaN);
    const series = SERIES_OF[metric]?.[cf] ?? -1;
    if (series < 0) throw new Error(`history: metric ${METRICS[metric]?.name ?? metric} keeps no ${cf}`);
    const f = this.f64;
    const gb = this.groupBase(block, METRICS[metric]!.group);
    const cur = f[gb + 1 + tier]!;
    if (cur === 0) return { startMs: jFrom * step, stepMs: step, values };
    const first = f[gb + 1 + TIER_COUNT + tier]!;
    // Open buckets, newest data first not yet folded: tier 0's, and (for tiers 2-4) tier 1's.
    const open0 = Math.floor((f[gb + 1]! * STEP0_MS) / step);
    const open1 = tier >= 2 ? Math.floor((f[gb + 2]! * STEP_MS[1]!) / step) : -1;
    const group = METRICS[metric]!.group;
    const column = SERIES_COLUMN[series]!;
    const width = GROUP_SERIES[group]!;
    const rows = this.rowBase(block, group, tier, 0) + column;
    const scale = SCALE[metric]!;
    for (let i = 0; i < n; i++) {
      const j = jFrom + i;
      if (j < first || j < cur - ROWS || j > Math.max(cur, open0)) continue;
      if (j < cur) {
        values[i] = this.f16[rows + (j % ROWS) * width]! * scale;
        continue;
      }
      let sum = 0;
      let count = 0;
      let min = Infinity;
      let max = -Infinity;
      const take = (level: number) => {
        const a = this.accBase(block, metric, level);
        const c = f[a + 1]!;
        if (c === 0) return;
        sum += f[a]!;
        count += c;
        min = Math.min(min, f[a + 2]!);
        max = Math.max(max, f[a + 3]!);
      };
      if (j === cur) take(tier);
      if (tier >= 2 && j === open1) take(1);
      if (tier >= 1 && j === open0) take(0);
      if (count > 0) values[i] = cf === "avg" ? sum / count : cf === "min" ? min : max;
    }
    return { startMs: jFrom * step, stepMs: step, values };
  }
}
