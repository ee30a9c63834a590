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
  RING_OFFSET,
  ROWS,
  STEP_MS,
  TIER_COUNT,
  VALUE_BYTES,
} from "./layout.ts";

/** binary16's largest finite value: anything above is kept as this. */
const F16_MAX = 65504;

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
  private u32: Uint32Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.f64 = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 3);
    this.f16 = new Float16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 1);
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
    return (this.start(block) + ACC_OFFSET + (metric * TIER_COUNT + tier) * ACC_F64 * 8) >>> 3;
  }
  private ringBase(block: number, series: number, tier: number): number {
    return (this.start(block) + RING_OFFSET + (series * TIER_COUNT + tier) * ROWS * VALUE_BYTES) >>> 1;
  }

  /**
   * Adds one sample of a group's metrics (`values[i]` for the group's i-th
   * metric in metrics.ts order; NaN = not measured this time). False if it
   * was refused (older than the current bucket).
   */
  record(block: number, group: number, tMs: number, values: ArrayLike<number>, heartbeatMs: number): boolean {
    const f = this.f64;
    const gb = this.groupBase(block, group);
    const b0 = Math.floor(tMs / STEP_MS[0]!);
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

  private accumulate(block: number, group: number, values: ArrayLike<number>): void {
    const f = this.f64;
    const metrics = GROUP_METRICS[group]!;
    for (let i = 0; i < metrics.length; i++) {
      const v = values[i]!;
      if (v !== v) continue; // NaN: not measured
      const a = this.accBase(block, metrics[i]!, 0);
      const n = f[a + 1]!;
      f[a] = f[a]! + v;
      f[a + 1] = n + 1;
      if (n === 0 || v < f[a + 2]!) f[a + 2] = v;
      if (n === 0 || v > f[a + 3]!) f[a + 3] = v;
    }
  }

  /** Writes tier 0's bucket `b` from its accumulators, folds them into the higher tiers, and clears them. */
  private closeTier0(block: number, group: number, b: number): void {
    const f = this.f64;
    const gb = this.groupBase(block, group);
    for (let k = 1; k < TIER_COUNT; k++) {
      const bk = Math.floor((b * STEP_MS[0]!) / STEP_MS[k]!);
      const ck = f[gb + 1 + k]!;
      if (bk > ck) {
        this.writeSlot(block, group, k, ck);
        for (let j = Math.max(ck + 1, bk - ROWS); j < bk; j++) this.gapSlot(block, group, k, j);
        f[gb + 1 + k] = bk;
      }
    }
    this.writeSlot(block, group, 0, b);
    const metrics = GROUP_METRICS[group]!;
    for (const m of metrics) {
      const a0 = this.accBase(block, m, 0);
      const n = f[a0 + 1]!;
      if (n > 0) {
        for (let k = 1; k < TIER_COUNT; k++) {
          const a = this.accBase(block, m, k);
          const nk = f[a + 1]!;
          f[a] = f[a]! + f[a0]!;
          f[a + 1] = nk + n;
          if (nk === 0 || f[a0 + 2]! < f[a + 2]!) f[a + 2] = f[a0 + 2]!;
          if (nk === 0 || f[a0 + 3]! > f[a + 3]!) f[a + 3] = f[a0 + 3]!;
        }
      }
      f[a0] = 0;
      f[a0 + 1] = 0;
      f[a0 + 2] = 0;
      f[a0 + 3] = 0;
    }
  }

  /** Writes the ring slot of bucket `b` of tier `k` from that tier's accumulators; for k > 0 clears them. */
  private writeSlot(block: number, group: number, k: number, b: number): void {
    const f = this.f64;
    const slot = b % ROWS;
    for (const m of GROUP_METRICS[group]!) {
      const a = this.accBase(block, m, k);
      const n = f[a + 1]!;
      const scale = SCALE[m]!;
      const s = SERIES_OF[m]!;
      this.f16[this.ringBase(block, s.avg, k) + slot] = n > 0 ? store(f[a]! / n / scale) : NaN;
      if (s.min >= 0) this.f16[this.ringBase(block, s.min, k) + slot] = n > 0 ? store(f[a + 2]! / scale) : NaN;
      if (s.max >= 0) this.f16[this.ringBase(block, s.max, k) + slot] = n > 0 ? store(f[a + 3]! / scale) : NaN;
      if (k > 0) {
        f[a] = 0;
        f[a + 1] = 0;
        f[a + 2] = 0;
        f[a + 3] = 0;
      }
    }
  }

  private gapSlot(block: number, group: number, k: number, b: number): void {
    const slot = b % ROWS;
    for (const m of GROUP_METRICS[group]!) {
      const s = SERIES_OF[m]!;
      this.f16[this.ringBase(block, s.avg, k) + slot] = NaN;
      if (s.min >= 0) this.f16[this.ringBase(block, s.min, k) + slot] = NaN;
      if (s.max >= 0) this.f16[this.ringBase(block, s.max, k) + slot] = NaN;
    }
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
    const cur0 = f[gb + 1]!;
    const open0 = Math.floor((cur0 * STEP_MS[0]!) / step);
    const ring = this.ringBase(block, series, tier);
    const scale = SCALE[metric]!;
    for (let i = 0; i < n; i++) {
      const j = jFrom + i;
      if (j < first || j < cur - ROWS || j > Math.max(cur, open0)) continue;
      if (j < cur) {
        values[i] = this.f16[ring + (j % ROWS)]! * scale;
        continue;
      }
      // The open bucket: this tier's accumulators, plus tier 0's not yet folded in.
      let sum = 0;
      let count = 0;
      let min = Infinity;
      let max = -Infinity;
      const take = (a: number) => {
        const c = f[a + 1]!;
        if (c === 0) return;
        sum += f[a]!;
        count += c;
        min = Math.min(min, f[a + 2]!);
        max = Math.max(max, f[a + 3]!);
      };
      if (j === cur) take(this.accBase(block, metric, tier));
      if (tier > 0 && j === open0) take(this.accBase(block, metric, 0));
      if (count > 0) values[i] = cf === "avg" ? sum / count : cf === "min" ? min : max;
    }
    return { startMs: jFrom * step, stepMs: step, values };
  }
}

function store(v: number): number {
  return v > F16_MAX ? F16_MAX : v;
}
