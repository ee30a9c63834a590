/**
 * Round-robin consolidation (RRD-style, like Ganglia's gmetad) of a history
 * file (layout.ts). Pure: no clock, no I/O; times come in as arguments, the
 * file's bytes are whatever the caller mapped (read only), and every write
 * to the file goes through the writer the caller gives (a pwrite in the
 * master, a copy into the same bytes in tests).
 *
 * A sample adds to the current bucket of tier 0. When a sample falls in a
 * later bucket, the current one is closed: its average (and min or max)
 * becomes its ring row, and its sum, count, min and max are folded into
 * the current bucket of every higher tier, which closes the same way when
 * a fold falls into its next bucket. So a report costs one accumulation
 * per metric, whatever the number of tiers.
 *
 * Write-behind (rrdcached's idea): what every report changes, the open
 * buckets of every tier, lives in this process's memory, one fixed-stride
 * record per host; so do tier 0's closed rows until `flush` writes them
 * (up to `pendingRows` per host and group; more are written at once).
 * Closed rows of the higher tiers (one per 6 min at most) are written when
 * they close. `flush` also writes the open buckets to the file, each
 * chunk's hosts in one write: a checkpoint, read back by the next start.
 * So a report touches no page of the file (a write through a shared mapping
 * to a page the kernel has written back faults, ~5 µs here), and what a
 * crash loses is what came after the host's last flush.
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
  CHUNK_HOSTS,
  GROUP_SERIES,
  GROUP_STATE_F64,
  HOST_HEADER_BYTES,
  NAME_BYTES_MAX,
  NAME_OFFSET,
  OPEN_BYTES,
  ROWS,
  SERIES_COLUMN,
  STEP_MS,
  TIER_COUNT,
  VALUE_BYTES,
  blockOffset,
  capacityOf,
  openOffset,
  ringOffset,
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
/** f64 in one host's open buckets. */
const OPEN_F64 = OPEN_BYTES / 8;
/** f64 between one metric's accumulators and the next's within a tier: a tier's are contiguous (one report touches a few cache lines). */
const ACC_STRIDE = ACC_F64;
/** f64 between a metric's accumulators in one tier and in the next. */
const TIER_ACC = METRICS.length * ACC_F64;
/** Byte offset (in a block) of each group's rows, per tier. */
const RING_AT: readonly (readonly number[])[] = Array.from({ length: GROUPS }, (_, g) => Array.from({ length: TIER_COUNT }, (_, k) => ringOffset(g, k)));
/** Bytes of one row of each group. */
const ROW_BYTES: readonly number[] = GROUP_SERIES.map((n) => n * VALUE_BYTES);
/** u16 of one row of all groups together: a host's pending rows are, per slot, one row of each group. */
const ROW_U16_ALL = GROUP_SERIES.reduce((a, b) => a + b, 0);
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

/** binary16 bits as a number (the decoder for rows held in memory; the file is read through a Float16Array). */
function fromHalf(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export interface SeriesRead {
  /** Start of the first point's bucket, ms since the epoch. */
  startMs: number;
  stepMs: number;
  /** One value per bucket, NaN for a gap. */
  values: Float64Array;
}

/** Writes `bytes` at byte `offset` of the file. May throw (the caller's business: the master's counts and goes on). */
export type FileWriter = (offset: number, bytes: Uint8Array) => void;

export interface HistoryCoreOptions {
  /**
   * Closed tier-0 rows kept in memory per host and group until `flush`:
   * enough for the time between two flushes of a host (its rows then go in
   * one write); past it, they are written at once.
   */
  pendingRows: number;
  /** Where writes go; by default into `bytes` themselves (the file is memory). */
  write?: FileWriter;
}

/** The pending rows needed to hold `flushIntervalMs` of a host's tier-0 rows, with room for a late flush and a heartbeat fill. */
export const pendingRowsFor = (flushIntervalMs: number): number => Math.ceil(flushIntervalMs / STEP0_MS) + 4;

/** Bytes of this process's memory per host slot: its open buckets, pending rows and their bookkeeping (docs/history.md). */
export const memoryBytesPerHost = (pendingRows: number): number => OPEN_BYTES + pendingRows * ROW_U16_ALL * 2 + GROUPS * 8;

export class HistoryCore {
  private bytes: Uint8Array;
  private f16: Float16Array;
  private u32: Uint32Array;
  private cap: number;
  /** In memory, per host slot: its open buckets (OPEN_F64 each), the file's layout of them. */
  private open: Float64Array;
  /** In memory, per host slot: pending tier-0 rows, `pendingRows` slots of one row of each group (bucket b at slot b % pendingRows). */
  private pend: Uint16Array;
  /** In memory, per host slot and group: the first tier-0 bucket whose row is not in the file yet (rows [pendFrom, cur) are in `pend`). */
  private pendFrom: Float64Array;
  private readonly K: number;
  private readonly write: FileWriter;
  /** A row (or a run of rows) being put together for a write. */
  private readonly out: Uint8Array;
  private readonly out16: Uint16Array;
  /** Rows of pending memory per host slot. */
  private readonly pendStride: number;
  /** Writes made (rows, checkpoints, blocks): what a flush costs in system calls. */
  writes = 0;

  constructor(bytes: Uint8Array, opts: HistoryCoreOptions) {
    if (!(Number.isInteger(opts.pendingRows) && opts.pendingRows >= 1 && opts.pendingRows < ROWS)) throw new RangeError(`history: pendingRows must be 1 … ${ROWS - 1}`);
    this.K = opts.pendingRows;
    this.pendStride = this.K * ROW_U16_ALL;
    this.write =
      opts.write ??
      ((offset, b) => {
        this.bytes.set(b, offset);
      });
    this.out = new Uint8Array(Math.max(ROWS * Math.max(...ROW_BYTES), OPEN_BYTES, HOST_HEADER_BYTES));
    this.out16 = new Uint16Array(this.out.buffer);
    this.bytes = bytes;
    this.f16 = new Float16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 1);
    this.u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.cap = capacityOf(bytes.byteLength);
    this.open = new Float64Array(this.cap * OPEN_F64);
    this.pend = new Uint16Array(this.cap * this.pendStride);
    this.pendFrom = new Float64Array(this.cap * GROUPS);
    this.restore(0, this.cap);
  }

  /** Host slots the bytes hold. */
  get capacity(): number {
    return this.cap;
  }

  /**
   * The file grew (and was mapped again): the new bytes replace the old,
   * the new slots' open buckets are read from them (what is in memory for
   * the old slots is newer than the file).
   */
  remap(bytes: Uint8Array): void {
    const cap = capacityOf(bytes.byteLength);
    if (cap < this.cap) throw new Error("history: a file never shrinks under its mapping");
    this.bytes = bytes;
    this.f16 = new Float16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 1);
    this.u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    if (cap === this.cap) return;
    const grow = <T extends Float64Array | Uint16Array>(old: T, next: T): T => (next.set(old), next);
    this.open = grow(this.open, new Float64Array(cap * OPEN_F64));
    this.pend = grow(this.pend, new Uint16Array(cap * this.pendStride));
    this.pendFrom = grow(this.pendFrom, new Float64Array(cap * GROUPS));
    const old = this.cap;
    this.cap = cap;
    this.restore(old, cap);
  }

  /** Slots [from, to): open buckets as the file's checkpoint has them, nothing pending. */
  private restore(from: number, to: number): void {
    const f = new Float64Array(OPEN_F64);
    const fb = new Uint8Array(f.buffer);
    for (let b = from; b < to; b++) {
      const at = openOffset(b);
      fb.set(this.bytes.subarray(at, at + OPEN_BYTES));
      this.open.set(f, b * OPEN_F64);
      for (let g = 0; g < GROUPS; g++) this.pendFrom[b * GROUPS + g] = f[g * GROUP_STATE_F64 + 1]!;
    }
  }

  // ---- blocks -------------------------------------------------------------

  /**
   * Makes slot `block` the (empty) history of a host: its header written,
   * its open buckets emptied (in memory and in the file). Its rings are
   * not cleared: a ring row is read only once this host has written it.
   */
  initBlock(block: number, hostId: number, name: string, createdMs: number): void {
    this.open.fill(0, block * OPEN_F64, (block + 1) * OPEN_F64);
    for (let g = 0; g < GROUPS; g++) this.pendFrom[block * GROUPS + g] = 0;
    const head = this.out.subarray(0, HOST_HEADER_BYTES).fill(0);
    const dv = new DataView(head.buffer, head.byteOffset, HOST_HEADER_BYTES);
    dv.setUint32(0, hostId, true);
    const enc = new TextEncoder().encode(name).subarray(0, NAME_BYTES_MAX);
    dv.setUint32(4, enc.length, true);
    dv.setFloat64(8, createdMs, true);
    head.set(enc, NAME_OFFSET);
    this.put(blockOffset(block), head);
    this.put(openOffset(block), this.out.subarray(0, OPEN_BYTES).fill(0));
  }

  freeBlock(block: number): void {
    this.put(blockOffset(block), new Uint8Array(4));
  }

  /** The host id a block belongs to (0: free). */
  hostIdOf(block: number): number {
    return this.u32[blockOffset(block) >>> 2]!;
  }

  nameOf(block: number): string {
    const s = blockOffset(block);
    const len = Math.min(this.u32[(s >>> 2) + 1]!, NAME_BYTES_MAX);
    return new TextDecoder().decode(this.bytes.subarray(s + NAME_OFFSET, s + NAME_OFFSET + len));
  }

  /** Time of the last sample of a group (0: none yet). */
  lastSampleMs(block: number, group: number): number {
    return this.open[this.groupBase(block, group)]!;
  }

  /** Closed rows not in the file yet, all hosts together (what a crash now would lose of the rings). */
  pendingRowCount(from = 0, to = this.cap): number {
    let n = 0;
    for (let b = from; b < to; b++) for (let g = 0; g < GROUPS; g++) n += this.pendingOf(b, g);
    return n;
  }

  private pendingOf(block: number, group: number): number {
    const cur0 = this.open[this.groupBase(block, group) + 1]!;
    return cur0 === 0 ? 0 : cur0 - this.pendFrom[block * GROUPS + group]!;
  }

  private put(offset: number, bytes: Uint8Array): void {
    this.writes++;
    this.write(offset, bytes);
  }

  // ---- writing ------------------------------------------------------------

  private groupBase(block: number, group: number): number {
    return block * OPEN_F64 + group * GROUP_STATE_F64;
  }
  private accBase(block: number, metric: number, tier: number): number {
    return block * OPEN_F64 + (ACC_OFFSET >>> 3) + (tier * METRICS.length + metric) * ACC_F64;
  }

  /**
   * Adds one sample of a group's metrics (`values[i]` for the group's i-th
   * metric in metrics.ts order; NaN = not measured this time). False if it
   * was refused (older than the current bucket).
   */
  record(block: number, group: number, tMs: number, values: ArrayLike<number>, heartbeatMs: number): boolean {
    const f = this.open;
    const gb = this.groupBase(block, group);
    const b0 = Math.floor(tMs / STEP0_MS);
    const cur0 = f[gb + 1]!;
    if (cur0 === 0) {
      for (let k = 0; k < TIER_COUNT; k++) {
        const b = Math.floor(tMs / STEP_MS[k]!);
        f[gb + 1 + k] = b;
        f[gb + 1 + TIER_COUNT + k] = b;
      }
      this.pendFrom[block * GROUPS + group] = b0;
    } else if (b0 < cur0) {
      return false;
    } else if (b0 > cur0) {
      const fill = tMs - f[gb]! <= heartbeatMs;
      this.closeTier0(block, group, cur0);
      const from = Math.max(cur0 + 1, b0 - ROWS);
      // Buckets more than a ring before the new one are never read: their rows are not made.
      if (from > cur0 + 1) this.skipPending(block, group, cur0 + 1, from);
      if (fill) {
        // The new sample stands for the buckets since the last one (at most a ring's worth).
        for (let b = from; b < b0; b++) {
          this.accumulate(block, group, values);
          this.closeTier0(block, group, b);
        }
      } else if (from < b0) {
        this.gapTier0(block, group, from, b0);
      }
      f[gb + 1] = b0;
    }
    this.accumulate(block, group, values);
    f[gb] = tMs;
    return true;
  }

  /** The hot path: one sample into tier 0's accumulators (a group's metrics are contiguous, ACC_STRIDE apart). */
  private accumulate(block: number, group: number, values: ArrayLike<number>): void {
    const f = this.open;
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
   * Closes tier 0's bucket `b`: its row made (pending), its accumulators
   * folded into tier 1's (closing tier 1's bucket first if `b` is past it)
   * and cleared. Tier 1's closed buckets fold into tiers 2-4 in turn: every
   * step is a multiple of tier 1's, so a report pays for one fold, not four.
   */
  private closeTier0(block: number, group: number, b: number): void {
    const f = this.open;
    const gb = this.groupBase(block, group);
    const b1 = Math.floor(b / STEPS_PER_TIER1);
    const c1 = f[gb + 2]!;
    if (b1 > c1) {
      this.closeTier1(block, group, c1);
      const from = Math.max(c1 + 1, b1 - ROWS);
      if (from < b1) this.gapRun(block, group, 1, from, b1);
      f[gb + 2] = b1;
    }
    this.makeRow(block, group, 0, this.pendingRow(block, group, b));
    this.fold(block, group, 0, 1, 2);
  }

  /** Closes tier 1's bucket `c1`: tiers 2-4 close theirs first if `c1` is past them, then take its fold. */
  private closeTier1(block: number, group: number, c1: number): void {
    const f = this.open;
    const gb = this.groupBase(block, group);
    for (let k = 2; k < TIER_COUNT; k++) {
      const bk = Math.floor((c1 * STEP_MS[1]!) / STEP_MS[k]!);
      const ck = f[gb + 1 + k]!;
      if (bk > ck) {
        this.writeRow(block, group, k, ck);
        this.clear(block, group, k);
        const from = Math.max(ck + 1, bk - ROWS);
        if (from < bk) this.gapRun(block, group, k, from, bk);
        f[gb + 1 + k] = bk;
      }
    }
    this.writeRow(block, group, 1, c1);
    this.fold(block, group, 1, 2, TIER_COUNT);
  }

  /** Adds tier `from`'s accumulators to tiers [to, toEnd) and clears them. */
  private fold(block: number, group: number, from: number, to: number, toEnd: number): void {
    const f = this.open;
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
    for (let i = 0; i < count; i++, a += ACC_STRIDE) this.open.fill(0, a, a + ACC_F64);
  }

  /** Tier `k`'s accumulators as a row of binary16 at u16 index `row` of `h`. */
  private makeRow(block: number, group: number, k: number, row: number, h: Uint16Array = this.pend): void {
    const f = this.open;
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

  /** Writes tier `k`'s (≥ 1) row of bucket `b` from its accumulators, now: these close once per 6 minutes at most. */
  private writeRow(block: number, group: number, k: number, b: number): void {
    this.makeRow(block, group, k, 0, this.out16);
    this.put(this.rowOffset(block, group, k, b), this.out.subarray(0, ROW_BYTES[group]!));
  }

  private rowOffset(block: number, group: number, k: number, b: number): number {
    return blockOffset(block) + RING_AT[group]![k]! + (b % ROWS) * ROW_BYTES[group]!;
  }

  /**
   * The u16 index in `pend` where tier 0's row of bucket `b` goes: b is the
   * next to close (pendFrom ≤ b). If the pending slots are all taken, their
   * rows are written first.
   */
  private pendingRow(block: number, group: number, b: number): number {
    if (b - this.pendFrom[block * GROUPS + group]! >= this.K) this.writePending(block, group, b);
    return this.pendAt(block, group, b);
  }

  private pendAt(block: number, group: number, b: number): number {
    let col = 0;
    for (let g = 0; g < group; g++) col += GROUP_SERIES[g]!;
    return block * this.pendStride + (b % this.K) * ROW_U16_ALL + col;
  }

  /** Gap rows [from, to) of tier `k` ≥ 1, written at once (at most two writes: the ring may wrap). */
  private gapRun(block: number, group: number, k: number, from: number, to: number): void {
    const width = GROUP_SERIES[group]!;
    for (let b = from; b < to; ) {
      const slot = b % ROWS;
      const n = Math.min(to - b, ROWS - slot);
      this.out16.fill(HALF_NAN, 0, n * width);
      this.put(this.rowOffset(block, group, k, b), this.out.subarray(0, n * ROW_BYTES[group]!));
      b += n;
    }
  }

  /** Gap rows [from, to) of tier 0: pending if they fit, else written at once after what is pending. */
  private gapTier0(block: number, group: number, from: number, to: number): void {
    const p = block * GROUPS + group;
    if (to - this.pendFrom[p]! <= this.K) {
      for (let b = from; b < to; b++) {
        const at = this.pendAt(block, group, b);
        this.pend.fill(HALF_NAN, at, at + GROUP_SERIES[group]!);
      }
      return;
    }
    this.writePending(block, group, from);
    this.gapRun(block, group, 0, from, to);
    this.pendFrom[p] = to;
  }

  /** Writes tier 0's pending rows of a group, buckets [pendFrom, end) (all closed), in at most two writes (the ring may wrap). */
  private writePending(block: number, group: number, end: number): void {
    const p = block * GROUPS + group;
    const width = GROUP_SERIES[group]!;
    for (let b = this.pendFrom[p]!; b < end; ) {
      const slot = b % ROWS;
      const n = Math.min(end - b, ROWS - slot);
      for (let i = 0; i < n; i++) {
        const at = this.pendAt(block, group, b + i);
        this.out16.set(this.pend.subarray(at, at + width), i * width);
      }
      this.put(this.rowOffset(block, group, 0, b), this.out.subarray(0, n * ROW_BYTES[group]!));
      b += n;
    }
    this.pendFrom[p] = end;
  }

  /** Rows [end, from) are not made (older than the ring by the time the next is): what is pending before them is written. */
  private skipPending(block: number, group: number, end: number, from: number): void {
    this.writePending(block, group, end);
    this.pendFrom[block * GROUPS + group] = from;
  }

  /**
   * Writes the pending rows of host slots [from, to), then their open
   * buckets (a chunk's in one write): after it, the file holds all they
   * have, and a restart goes on from here.
   */
  flush(from: number, to: number): void {
    to = Math.min(to, this.cap);
    for (let b = from; b < to; b++) {
      for (let g = 0; g < GROUPS; g++) if (this.pendingOf(b, g) > 0) this.writePending(b, g, this.open[this.groupBase(b, g) + 1]!);
    }
    this.checkpoint(from, to);
  }

  /** Writes the open buckets of host slots [from, to) from memory to the file: one write per chunk. */
  checkpoint(from: number, to: number): void {
    to = Math.min(to, this.cap);
    const bytes = new Uint8Array(this.open.buffer, this.open.byteOffset, this.open.byteLength);
    for (let b = from; b < to; ) {
      const n = Math.min(to - b, CHUNK_HOSTS - (b % CHUNK_HOSTS));
      this.put(openOffset(b), bytes.subarray(b * OPEN_BYTES, (b + n) * OPEN_BYTES));
      b += n;
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
    const f = this.open;
    const group = METRICS[metric]!.group;
    const gb = this.groupBase(block, group);
    const cur = f[gb + 1 + tier]!;
    if (cur === 0) return { startMs: jFrom * step, stepMs: step, values };
    const first = f[gb + 1 + TIER_COUNT + tier]!;
    // Open buckets, newest data first not yet folded: tier 0's, and (for tiers 2-4) tier 1's.
    const open0 = Math.floor((f[gb + 1]! * STEP0_MS) / step);
    const open1 = tier >= 2 ? Math.floor((f[gb + 2]! * STEP_MS[1]!) / step) : -1;
    const column = SERIES_COLUMN[series]!;
    const width = GROUP_SERIES[group]!;
    const rows = ((blockOffset(block) + RING_AT[group]![tier]!) >>> 1) + column;
    // Tier 0's rows from pendFrom on are still in memory.
    const pendFrom = tier === 0 ? this.pendFrom[block * GROUPS + group]! : Infinity;
    const scale = SCALE[metric]!;
    for (let i = 0; i < n; i++) {
      const j = jFrom + i;
      if (j < first || j < cur - ROWS || j > Math.max(cur, open0)) continue;
      if (j < cur) {
        values[i] = (j >= pendFrom ? fromHalf(this.pend[this.pendAt(block, group, j) + column]!) : this.f16[rows + (j % ROWS) * width]!) * scale;
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

