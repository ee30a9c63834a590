/**
 * The consolidation core (src/history/series.ts): known samples in, known
 * averages, minimums and maximums out of each tier; the open bucket; gaps
 * that stay gaps; the heartbeat; the ring wrapping round; refusals.
 */
import { describe, expect, test } from "bun:test";
import {
  BLOCK_BYTES,
  CHUNK_HOSTS,
  GROUP_REPORT,
  GROUP_TELEMETRY,
  HEADER_BYTES,
  HistoryCore,
  METRICS,
  OPEN_BYTES,
  REPORT_METRICS,
  ROWS,
  STEP_MS,
  TELEMETRY_METRICS,
  fileBytes,
  half,
  metricIndex,
  reportBytesPerHost,
} from "../../src/history/index.ts";

/** A time aligned to every tier's buckets (lcm of the steps is 907,200 s). */
const T0 = 907_200_000 * 1900;
const S = 1000;
const MIN = 60 * S;
const HB = 14 * S; // heartbeat: a 4 s reporter that missed 2 reports is still "there"

function core(hosts = 2): HistoryCore {
  const c = new HistoryCore(new Uint8Array(fileBytes(CHUNK_HOSTS)), { pendingRows: 8 });
  for (let b = 0; b < hosts; b++) c.initBlock(b, b + 1, `h${b + 1}`, T0);
  return c;
}

/** A report sample: the named fields, NaN (not measured) for the rest. */
function rep(v: Partial<Record<(typeof REPORT_METRICS)[number]["name"], number>>): Float64Array {
  return Float64Array.from(REPORT_METRICS, (m) => v[m.name] ?? NaN);
}

const idx = (name: string) => {
  const i = metricIndex(name);
  if (i < 0) throw new Error(`no metric ${name}`);
  return i;
};
const LOAD1 = idx("load1");
const IDLE = idx("cpuIdle");
const MEM = idx("memUsed");

/** The values of a read as plain numbers, gaps as null. */
function vals(r: { values: Float64Array }): (number | null)[] {
  return [...r.values].map((x) => (Number.isNaN(x) ? null : Math.round(x * 1000) / 1000));
}

describe("tier 0 (15 s buckets)", () => {
  test("a closed bucket holds the average, and the min or max kept for the metric", () => {
    const c = core();
    for (const [dt, load, idle] of [[0, 1, 90], [4, 2, 50], [8, 3, 70]] as const) c.record(0, GROUP_REPORT, T0 + dt * S, rep({ load1: load, cpuIdle: idle }), HB);
    c.record(0, GROUP_REPORT, T0 + 16 * S, rep({ load1: 10, cpuIdle: 10 }), HB);
    expect(vals(c.read(0, LOAD1, "avg", 0, T0, T0))).toEqual([2]);
    expect(vals(c.read(0, LOAD1, "max", 0, T0, T0))).toEqual([3]);
    expect(vals(c.read(0, IDLE, "avg", 0, T0, T0))).toEqual([70]);
    expect(vals(c.read(0, IDLE, "min", 0, T0, T0))).toEqual([50]);
    expect(() => c.read(0, LOAD1, "min", 0, T0, T0)).toThrow(/keeps no min/);
  });

  test("the open bucket is read as it is so far", () => {
    const c = core();
    c.record(0, GROUP_REPORT, T0 + 1 * S, rep({ load1: 4 }), HB);
    c.record(0, GROUP_REPORT, T0 + 5 * S, rep({ load1: 2 }), HB);
    const r = c.read(0, LOAD1, "avg", 0, T0, T0 + 10 * S);
    expect(r.startMs).toBe(T0);
    expect(r.stepMs).toBe(15 * S);
    expect(vals(r)).toEqual([3]);
    expect(vals(c.read(0, LOAD1, "max", 0, T0, T0 + 10 * S))).toEqual([4]);
  });

  test("a metric not measured in a sample (NaN) leaves its average alone", () => {
    const c = core();
    c.record(0, GROUP_REPORT, T0, rep({ load1: 1, memUsed: 2 ** 30 }), HB);
    c.record(0, GROUP_REPORT, T0 + 4 * S, rep({ load1: 3 }), HB);
    expect(vals(c.read(0, LOAD1, "avg", 0, T0, T0))).toEqual([2]);
    expect(vals(c.read(0, MEM, "avg", 0, T0, T0))).toEqual([2 ** 30]);
  });

  test("memory in bytes keeps about 3 significant digits; a value past binary16's range is kept as its largest", () => {
    const c = core();
    const bytes = 512.3 * 2 ** 30;
    c.record(0, GROUP_REPORT, T0, rep({ memUsed: bytes, load1: 1e6 }), HB);
    c.record(0, GROUP_REPORT, T0 + 15 * S, rep({ memUsed: 1 }), HB);
    const got = c.read(0, MEM, "avg", 0, T0, T0).values[0]!;
    expect(Math.abs(got - bytes) / bytes).toBeLessThan(0.001);
    expect(c.read(0, LOAD1, "avg", 0, T0, T0).values[0]).toBe(65504);
  });
});

describe("higher tiers are folded from tier 0", () => {
  test("a 6-minute bucket averages every sample in it and keeps the overall max and min", () => {
    const c = core();
    // 24 buckets of 15 s, one sample each: load = bucket number, idle = 100 - bucket number.
    for (let i = 0; i < 24; i++) c.record(0, GROUP_REPORT, T0 + i * 15 * S, rep({ load1: i, cpuIdle: 100 - i }), HB);
    c.record(0, GROUP_REPORT, T0 + 6 * MIN, rep({ load1: 100, cpuIdle: 0 }), HB); // closes the 6-min bucket's last tier-0 bucket
    c.record(0, GROUP_REPORT, T0 + 6 * MIN + 15 * S, rep({ load1: 100, cpuIdle: 0 }), HB); // folds it: the 6-min bucket closes
    expect(vals(c.read(0, LOAD1, "avg", 1, T0, T0))).toEqual([11.5]);
    expect(vals(c.read(0, LOAD1, "max", 1, T0, T0))).toEqual([23]);
    expect(vals(c.read(0, IDLE, "min", 1, T0, T0))).toEqual([77]);
    // Tier 0 has each one.
    expect(vals(c.read(0, LOAD1, "avg", 0, T0, T0 + 23 * 15 * S)).slice(0, 4)).toEqual([0, 1, 2, 3]);
  });

  test("the average weighs every sample, not every bucket", () => {
    const c = core();
    // Bucket 0: three samples of 1; bucket 1: one sample of 5. Mean of samples 2, mean of buckets 3.
    for (const dt of [0, 4, 8]) c.record(0, GROUP_REPORT, T0 + dt * S, rep({ load1: 1 }), HB);
    c.record(0, GROUP_REPORT, T0 + 15 * S, rep({ load1: 5 }), HB);
    expect(vals(c.read(0, LOAD1, "avg", 1, T0, T0))).toEqual([2]);
  });

  test("every tier reads the open bucket, including tier 0's part not folded yet", () => {
    const c = core();
    for (let i = 0; i < 10; i++) c.record(0, GROUP_REPORT, T0 + i * 10 * S, rep({ load1: 2 }), HB);
    c.record(0, GROUP_REPORT, T0 + 100 * S, rep({ load1: 8 }), HB);
    for (let k = 1; k < STEP_MS.length; k++) {
      const r = c.read(0, LOAD1, "avg", k, T0, T0 + 100 * S);
      expect(vals(r)).toEqual([Math.round(((2 * 10 + 8) / 11) * 1000) / 1000]);
      expect(vals(c.read(0, LOAD1, "max", k, T0, T0 + 100 * S))).toEqual([8]);
    }
  });

  test("tiers step as documented: 15 s, 6 min, 42 min, 3 h, 36 h", () => {
    expect(STEP_MS).toEqual([15 * S, 360 * S, 2520 * S, 10_800 * S, 129_600 * S]);
    expect(ROWS).toBe(240);
  });
});

describe("folding across levels", () => {
  test("a week's open bucket holds closed 6-minute buckets, the open 6-minute one and the open 15 s one", () => {
    const c = core();
    // 13 minutes, a sample every 5 s: two 6-minute buckets close, the third is open, and so is a 15 s one.
    let sum = 0;
    let n = 0;
    for (let t = 0; t <= 13 * 60; t += 5) {
      c.record(0, GROUP_REPORT, T0 + t * S, rep({ load1: t % 7 }), HB);
      sum += t % 7;
      n++;
    }
    const to = T0 + 13 * MIN;
    for (const tier of [2, 3, 4]) {
      expect(vals(c.read(0, LOAD1, "avg", tier, T0, to))).toEqual([Math.round((sum / n) * 1000) / 1000]);
      expect(vals(c.read(0, LOAD1, "max", tier, T0, to))).toEqual([6]);
    }
    // Tier 1: two closed buckets and the open one.
    expect(vals(c.read(0, LOAD1, "avg", 1, T0, to)).length).toBe(3);
  });

  test("the binary16 encoder agrees with the engine's Float16Array (round to nearest) and clamps", () => {
    const f16 = new Float16Array(1);
    const u16 = new Uint16Array(f16.buffer);
    const samples = [0, 1, 0.1, 2.5, 3.14159, 100, 99.99, 1023.5, 65504, 65519, 1e-5, 6.1e-5, 5.96e-8, 1234.567, 0.333];
    for (let i = 0; i < 2000; i++) samples.push(Math.exp((i / 2000) * 22 - 11));
    for (const v of samples) {
      f16[0] = v;
      const want = u16[0]!;
      const got = half(v);
      // Ties may round either way: the two agree to one unit in the last place.
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1);
    }
    expect(half(1e9)).toBe(0x7bff);
    expect(half(NaN)).toBe(0x7e00);
  });
});

describe("gaps", () => {
  test("a silent host leaves gaps (NaN), not zeros, in every tier", () => {
    const c = core();
    c.record(0, GROUP_REPORT, T0, rep({ load1: 4 }), HB);
    c.record(0, GROUP_REPORT, T0 + 5 * MIN, rep({ load1: 6 }), HB); // 5 minutes of silence
    const r = vals(c.read(0, LOAD1, "avg", 0, T0, T0 + 5 * MIN));
    expect(r.length).toBe(21);
    expect(r[0]).toBe(4);
    expect(r.slice(1, 20)).toEqual(Array(19).fill(null));
    expect(r[20]).toBe(6); // open bucket
    // The 6-minute bucket averages what arrived (4 and 6), not the silence.
    expect(vals(c.read(0, LOAD1, "avg", 1, T0, T0))).toEqual([5]);
  });

  test("samples within the heartbeat fill the buckets between them (a host reporting every 30 s)", () => {
    const c = core();
    for (let i = 0; i <= 8; i++) c.record(0, GROUP_REPORT, T0 + i * 30 * S, rep({ load1: i }), 45 * S);
    const r = vals(c.read(0, LOAD1, "avg", 0, T0, T0 + 4 * MIN));
    expect(r).toEqual([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8]);
  });

  test("before the first sample and after the last one there is nothing", () => {
    const c = core();
    c.record(0, GROUP_REPORT, T0 + 30 * S, rep({ load1: 1 }), HB);
    const r = vals(c.read(0, LOAD1, "avg", 0, T0, T0 + 2 * MIN));
    expect(r).toEqual([null, null, 1, null, null, null, null, null, null]);
    expect(vals(c.read(1, LOAD1, "avg", 0, T0, T0 + 2 * MIN))).toEqual(Array(9).fill(null)); // another host, nothing yet
  });

  test("telemetry has its own clock of buckets: a report does not close telemetry's", () => {
    const c = core();
    const NET = idx("netRx");
    const tel = (rx: number) => Float64Array.from(TELEMETRY_METRICS, (m) => (m.name === "netRx" ? rx : NaN));
    c.record(0, GROUP_TELEMETRY, T0, tel(2 ** 20), 150 * S);
    for (let i = 0; i < 15; i++) c.record(0, GROUP_REPORT, T0 + i * 4 * S, rep({ load1: 1 }), HB);
    c.record(0, GROUP_TELEMETRY, T0 + 60 * S, tel(3 * 2 ** 20), 150 * S);
    // Telemetry every 60 s within its heartbeat: the 15 s buckets between carry the newer rate.
    expect(vals(c.read(0, NET, "avg", 0, T0, T0 + 60 * S))).toEqual([2 ** 20, 3 * 2 ** 20, 3 * 2 ** 20, 3 * 2 ** 20, 3 * 2 ** 20]);
    expect(c.lastSampleMs(0, GROUP_TELEMETRY)).toBe(T0 + 60 * S);
    expect(c.lastSampleMs(0, GROUP_REPORT)).toBe(T0 + 56 * S);
  });
});

describe("the ring", () => {
  test("wraps round: the newest ROWS buckets are kept, older ones read as gaps", () => {
    const c = core();
    const n = ROWS + 60;
    for (let i = 0; i < n; i++) c.record(0, GROUP_REPORT, T0 + i * 15 * S, rep({ load1: i % 100 }), HB);
    const to = T0 + (n - 1) * 15 * S;
    const all = vals(c.read(0, LOAD1, "avg", 0, T0, to));
    // At most ROWS closed buckets and the open one.
    expect(all.length).toBe(ROWS + 1);
    const expected = Array.from({ length: ROWS + 1 }, (_, i) => (n - 1 - ROWS + i) % 100);
    expect(all).toEqual(expected);
    // Asked for the overwritten past alone: gaps.
    expect(vals(c.read(0, LOAD1, "avg", 0, T0, T0 + 58 * 15 * S))).toEqual(Array(59).fill(null));
  });

  test("a silence longer than the ring leaves nothing of before it", () => {
    const c = core();
    c.record(0, GROUP_REPORT, T0, rep({ load1: 7 }), HB);
    const later = T0 + 2 * 3_600_000;
    c.record(0, GROUP_REPORT, later, rep({ load1: 1 }), HB);
    const r = vals(c.read(0, LOAD1, "avg", 0, later - 3_600_000, later));
    expect(r.filter((x) => x !== null)).toEqual([1]);
    // Tier 1 (1 day) still has the first sample's bucket.
    expect(vals(c.read(0, LOAD1, "avg", 1, T0, T0))).toEqual([7]);
  });

  test("a sample older than the current bucket (clock gone back) is refused and changes nothing", () => {
    const c = core();
    expect(c.record(0, GROUP_REPORT, T0 + 30 * S, rep({ load1: 1 }), HB)).toBe(true);
    expect(c.record(0, GROUP_REPORT, T0, rep({ load1: 100 }), HB)).toBe(false);
    expect(c.record(0, GROUP_REPORT, T0 + 31 * S, rep({ load1: 3 }), HB)).toBe(true);
    expect(vals(c.read(0, LOAD1, "avg", 0, T0 + 30 * S, T0 + 30 * S))).toEqual([2]);
  });
});

describe("blocks and sizes", () => {
  test("blocks are independent, named, and empty again after initBlock", () => {
    const c = core(3);
    c.record(1, GROUP_REPORT, T0, rep({ load1: 5 }), HB);
    expect(vals(c.read(0, LOAD1, "avg", 0, T0, T0))).toEqual([null]);
    expect(vals(c.read(1, LOAD1, "avg", 0, T0, T0))).toEqual([5]);
    expect(c.hostIdOf(1)).toBe(2);
    expect(c.nameOf(1)).toBe("h2");
    c.initBlock(1, 42, "node-42.example.org", T0);
    expect(c.hostIdOf(1)).toBe(42);
    expect(c.nameOf(1)).toBe("node-42.example.org");
    expect(vals(c.read(1, LOAD1, "avg", 0, T0, T0))).toEqual([null]);
    c.freeBlock(1);
    expect(c.hostIdOf(1)).toBe(0);
    expect(c.capacity).toBe(CHUNK_HOSTS);
  });

  test("the size formula: header + capacity × (open buckets + block); the report's fields take ≤ 64 KiB per host", () => {
    expect(fileBytes(CHUNK_HOSTS * 2)).toBe(HEADER_BYTES + CHUNK_HOSTS * 2 * (OPEN_BYTES + BLOCK_BYTES));
    expect(OPEN_BYTES % 64).toBe(0);
    expect(reportBytesPerHost()).toBeLessThanOrEqual(64 * 1024);
    expect(BLOCK_BYTES % 64).toBe(0);
    expect(METRICS.length).toBe(REPORT_METRICS.length + TELEMETRY_METRICS.length);
  });
});
