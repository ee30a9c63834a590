/**
 * Write-behind in the consolidation core (src/history/series.ts): reports
 * change only memory; closed rows and the open buckets reach the file when
 * a host is flushed. Whatever the flushes, reads are the same; a restart
 * after a flush reads what the running core read; a crash loses only what
 * came after the host's last flush; pending rows past their room are
 * written at once and read the same.
 */
import { describe, expect, test } from "bun:test";
import { seededRng } from "../../src/rng/index.ts";
import { CHUNK_HOSTS, GROUP_REPORT, GROUP_TELEMETRY, HistoryCore, METRICS, REPORT_METRICS, ROWS, STEP_MS, TELEMETRY_METRICS, TIERS, fileBytes } from "../../src/history/index.ts";

const T0 = 907_200_000 * 1900; // aligned to every tier's buckets
const S = 1000;
const HB = 14 * S;
const TEL_HB = 150 * S;
const HOSTS = 3;

/** A core over its own bytes, counting the writes it makes. */
function makeCore(pendingRows: number, bytes: Uint8Array = new Uint8Array(fileBytes(CHUNK_HOSTS)), init = true): { c: HistoryCore; bytes: Uint8Array; writes: { offset: number; length: number }[] } {
  const writes: { offset: number; length: number }[] = [];
  const c = new HistoryCore(bytes, {
    pendingRows,
    write: (offset, b) => {
      writes.push({ offset, length: b.length });
      bytes.set(b, offset);
    },
  });
  if (init) for (let h = 0; h < HOSTS; h++) c.initBlock(h, h + 1, `h${h + 1}`, T0);
  writes.length = 0;
  return { c, bytes, writes };
}

type Op = { host: number; group: number; t: number; values: Float64Array };

/** Samples of HOSTS hosts over `hours`: reports every ~4 s with late ones, silences of minutes and of hours; telemetry every ~60 s. */
function scenario(seed: number, hours: number): Op[] {
  const rnd = seededRng(seed);
  const ops: Op[] = [];
  for (let host = 0; host < HOSTS; host++) {
    let t = T0 + Math.floor(rnd() * 4000);
    let tel = t;
    const end = T0 + hours * 3_600_000;
    while (t < end) {
      const r = rnd();
      t += r < 0.9 ? 3500 + Math.floor(rnd() * 1000) : r < 0.97 ? 10_000 + Math.floor(rnd() * 30_000) : r < 0.995 ? 5 * 60_000 + Math.floor(rnd() * 30 * 60_000) : 3 * 3_600_000 * rnd();
      ops.push({ host, group: GROUP_REPORT, t, values: Float64Array.from(REPORT_METRICS, (_, i) => (rnd() < 0.05 ? NaN : Math.round(rnd() * 1000) / (i + 1))) });
      if (t - tel >= 60_000) {
        tel = t;
        ops.push({ host, group: GROUP_TELEMETRY, t, values: Float64Array.from(TELEMETRY_METRICS, () => (rnd() < 0.2 ? NaN : rnd() * 2 ** 24)) });
      }
    }
  }
  return ops.sort((a, b) => a.t - b.t || a.host - b.host);
}

/** Every series of every host over [from, to], from every tier, as one list of numbers (NaN as null). */
function readAll(c: HistoryCore, from: number, to: number): (number | null)[][] {
  const out: (number | null)[][] = [];
  for (let h = 0; h < HOSTS; h++) {
    METRICS.forEach((m, metric) => {
      for (const cf of m.cfs) {
        for (let tier = 0; tier < TIERS.length; tier++) {
          const r = c.read(h, metric, cf, tier, Math.max(from, to - STEP_MS[tier]! * ROWS), to);
          out.push([r.startMs, ...[...r.values].map((x) => (Number.isNaN(x) ? null : x))]);
        }
      }
    });
  }
  return out;
}

function play(c: HistoryCore, ops: Op[], from: number, to: number, between?: (t: number) => void): void {
  for (let i = from; i < to; i++) {
    const o = ops[i]!;
    c.record(o.host, o.group, o.t, o.values, o.group === GROUP_REPORT ? HB : TEL_HB);
    between?.(o.t);
  }
}

describe("a report writes only memory", () => {
  test("samples and closed tier-0 rows cost no write until the flush; the flush writes the rows and the open buckets", () => {
    const { c, writes } = makeCore(8);
    const v = Float64Array.from(REPORT_METRICS, () => 1);
    // 5 buckets of 15 s, 4 reports each: 4 closed rows (within the 8 pending slots).
    for (let i = 0; i < 20; i++) c.record(0, GROUP_REPORT, T0 + i * 3750, v, HB);
    expect(writes).toEqual([]);
    expect(c.pendingRowCount()).toBe(4);
    c.flush(0, CHUNK_HOSTS);
    // One write of the 4 rows (contiguous in the ring), one of the 64 hosts' open buckets.
    expect(writes.length).toBe(2);
    expect(c.pendingRowCount()).toBe(0);
    writes.length = 0;
    c.flush(0, CHUNK_HOSTS);
    expect(writes.length).toBe(1); // nothing pending: the checkpoint alone
  });

  test("rows past the pending room are written at once, and read the same", () => {
    const ops = scenario(7, 3);
    const a = makeCore(1);
    const b = makeCore(40);
    play(a.c, ops, 0, ops.length);
    play(b.c, ops, 0, ops.length);
    const end = ops[ops.length - 1]!.t;
    expect(a.writes.length).toBeGreaterThan(0);
    expect(readAll(a.c, T0, end)).toEqual(readAll(b.c, T0, end));
  });
});

describe("whatever the flushes, the history is the same", () => {
  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: flushing every sample, at random, or never reads alike; a restart after a flush reads the same`, () => {
      const ops = scenario(seed, 80); // past a 36 h bucket: every tier closes
      const never = makeCore(8);
      const always = makeCore(8);
      const random = makeCore(3);
      const rnd = seededRng(seed * 977);
      play(never.c, ops, 0, ops.length);
      play(always.c, ops, 0, ops.length, () => always.c.flush(0, HOSTS));
      play(random.c, ops, 0, ops.length, () => {
        if (rnd() < 0.01) random.c.flush(Math.floor(rnd() * HOSTS), HOSTS);
      });
      const end = ops[ops.length - 1]!.t;
      const want = readAll(never.c, T0, end);
      expect(readAll(always.c, T0, end)).toEqual(want);
      expect(readAll(random.c, T0, end)).toEqual(want);
      // A clean stop flushes; the next start reads the file alone.
      random.c.flush(0, CHUNK_HOSTS);
      const restarted = makeCore(8, random.bytes, false);
      expect(readAll(restarted.c, T0, end)).toEqual(want);
      // ... and goes on as the running one would.
      const more = scenario(seed + 100, 1).map((o) => ({ ...o, t: o.t - T0 + end + 1000 }));
      play(restarted.c, more, 0, more.length);
      play(never.c, more, 0, more.length);
      const end2 = more[more.length - 1]!.t;
      expect(readAll(restarted.c, T0, end2)).toEqual(readAll(never.c, T0, end2));
    });
  }
});

describe("a crash", () => {
  test("loses only what came after the host's last flush; gaps after it stay gaps", () => {
    const ops = scenario(11, 30);
    const run = makeCore(8);
    const half = Math.floor(ops.length / 2);
    play(run.c, ops, 0, half);
    run.c.flush(0, CHUNK_HOSTS);
    const flushedAt = ops[half - 1]!.t;
    const atFlush = readAll(run.c, T0, flushedAt);
    // 10 more minutes of samples, not flushed (some rows of them written: pending room of 8), then the process dies.
    let i = half;
    while (i < ops.length && ops[i]!.t < flushedAt + 10 * 60_000) i++;
    play(run.c, ops, half, i);
    const crashed = makeCore(8, run.bytes, false);
    expect(readAll(crashed.c, T0, flushedAt)).toEqual(atFlush);
    // Nothing of the lost 10 minutes is read, and the next sample (an hour on) leaves a gap, not the lost values.
    const later = flushedAt + 3_600_000;
    for (let h = 0; h < HOSTS; h++) crashed.c.record(h, GROUP_REPORT, later, Float64Array.from(REPORT_METRICS, () => 5), HB);
    const r = crashed.c.read(0, 0, "avg", 0, flushedAt + STEP_MS[0]!, later - STEP_MS[0]!);
    expect([...r.values].every((x) => Number.isNaN(x))).toBe(true);
    expect(crashed.c.read(0, 0, "avg", 0, later, later).values[0]).toBe(5);
  });
});
