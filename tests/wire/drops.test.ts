/**
 * Every drop reason the codec assigns, each from a datagram built by hand
 * (not by the encoders), plus the boundaries that must still pass.
 */
import { describe, expect, test } from "bun:test";
import { DROP_REASONS, decodeDatagram, encodeHeader, type DropReason } from "../../src/wire/index.ts";

// ---- hand builders -------------------------------------------------------
const u16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
function f64(v: number): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, false);
  return [...b];
}
const bytes = (...parts: (number[] | Uint8Array)[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
/** Header whose len matches the body, then the body. */
const datagram = (op: number, extra: number, body: number[]): Uint8Array => bytes(u32(op), u32(body.length), u32(extra), body);

const VEC = { load1: 1, load5: 1, load15: 1, memUsed: 1e9, memFree: 1e9, swapUsed: 0, swapFree: 1e9, ncpus: 4, cpuUser: 10, cpuSys: 5, cpuIdle: 85 };
type Vec = typeof VEC;
const VEC_KEYS = Object.keys(VEC) as (keyof Vec)[];
function reportBody(over: Partial<Vec> = {}, stats: number[] = [0, 0, 100, 0]): number[] {
  const v = { ...VEC, ...over };
  return [...VEC_KEYS.flatMap((k) => f64(v[k])), ...stats.flatMap(u32)];
}
const AUTH = [...u32(7), ...u32(1), ...new Array<number>(24).fill(0xaa)];

/** MASTER_SYNC fixed part: node 1, term 5, batch 3, flags, count, reserved. */
function syncHead(o: { termHi?: number; batch?: number; flags?: number; count?: number; reserved?: number } = {}): number[] {
  return [...u32(1), ...u32(o.termHi ?? 0), ...u32(5), ...u32(o.batch ?? 3), o.flags ?? 3, o.count ?? 0, ...u16(o.reserved ?? 0)];
}
/** One sync record: host 9, with a report unless flags say otherwise. */
function syncRecord(o: { hostId?: number; flags?: number; age?: number; reserved?: number; report?: number[] } = {}): number[] {
  const flags = o.flags ?? 3;
  const report = o.report ?? (flags & 1 ? reportBody() : new Array<number>(104).fill(0));
  return [...u32(o.hostId ?? 9), ...u32(0xabcd), ...u32(17), ...u32(o.age ?? (flags & 1 ? 250 : 0)), ...u32(flags), ...u32(1), ...u32(40), ...u32(o.reserved ?? 0), ...report];
}
const sync = (head: Parameters<typeof syncHead>[0], ...records: number[][]): Uint8Array => datagram(12, 0, [...syncHead({ count: records.length, ...head }), ...records.flat()]);

interface AnnOpts {
  nodeId?: number;
  termHi?: number;
  termLo?: number;
  interval?: number;
  base?: number;
  addr?: number[];
  addrLen?: number;
  bitmap?: number[];
  bitmapLen?: number;
  pad?: number[];
}
const ascii = (s: string): number[] => [...new TextEncoder().encode(s)];
function annBody(o: AnnOpts = {}): number[] {
  const addr = o.addr ?? ascii("10.0.0.1:6880");
  const bitmap = o.bitmap ?? [0xff];
  const used = 24 + addr.length + bitmap.length;
  const pad = o.pad ?? new Array<number>((4 - (used % 4)) % 4).fill(0);
  return [
    ...u32(o.nodeId ?? 1),
    ...u32(o.termHi ?? 0),
    ...u32(o.termLo ?? 5),
    ...u32(o.interval ?? 4000),
    ...u32(o.base ?? 1),
    ...u16(o.addrLen ?? addr.length),
    ...u16(o.bitmapLen ?? bitmap.length),
    ...addr,
    ...bitmap,
    ...pad,
  ];
}

function reasonOf(buf: Uint8Array): DropReason | "ok" {
  const d = decodeDatagram(buf);
  return d.ok ? "ok" : d.reason;
}

// ---- the baseline must pass ---------------------------------------------
test("hand-built baselines decode ok", () => {
  expect(reasonOf(datagram(11, 0, reportBody()))).toBe("ok");
  expect(reasonOf(datagram(11, 1, [...AUTH, ...reportBody()]))).toBe("ok");
  expect(reasonOf(datagram(10, 0, annBody()))).toBe("ok");
  expect(reasonOf(datagram(10, 1, [...AUTH, ...annBody()]))).toBe("ok");
  expect(reasonOf(sync({}))).toBe("ok");
  expect(reasonOf(sync({}, syncRecord(), syncRecord({ flags: 2 }), syncRecord({ flags: 0 })))).toBe("ok");
  expect(reasonOf(sync({}, ...Array.from({ length: 7 }, () => syncRecord())))).toBe("ok");
  expect(reasonOf(datagram(13, 1, AUTH))).toBe("ok");
});

test("DROP_REASONS is stable (metrics list it in this order)", () => {
  expect([...DROP_REASONS]).toEqual([
    "short", "long", "bad_len", "unknown_op", "bad_flags", "non_finite", "negative", "bad_value",
    "bad_tag", "replay", "unknown_host", "unauthenticated", "unexpected_op",
  ]);
});

describe("short", () => {
  for (const n of [0, 1, 4, 11]) {
    test(`${n} bytes`, () => expect(reasonOf(datagram(11, 0, reportBody()).subarray(0, n))).toBe("short"));
  }
});

describe("long", () => {
  test("1025 bytes with a consistent header", () => {
    expect(reasonOf(datagram(11, 0, new Array<number>(1013).fill(0)))).toBe("long");
  });
  test("1024 bytes is not long", () => {
    expect(reasonOf(datagram(12, 0, new Array<number>(1012).fill(0)))).toBe("bad_len"); // too big for op 12, but not `long`
  });
});

describe("unknown_op", () => {
  for (const op of [0, 9, 14, 255, 0x0b000000, 0xffffffff]) {
    test(`op ${op}`, () => expect(reasonOf(datagram(op, 0, reportBody()))).toBe("unknown_op"));
  }
  test("is named before bad_flags and bad_len", () => {
    expect(reasonOf(bytes(u32(99), u32(3), u32(6)))).toBe("unknown_op");
  });
});

describe("bad_flags", () => {
  for (const extra of [2, 3, 0x100, 0x80000000, 0xffffffff]) {
    test(`extra 0x${extra.toString(16)}`, () => expect(reasonOf(datagram(11, extra, reportBody()))).toBe("bad_flags"));
  }
  test("is named before bad_len", () => {
    expect(reasonOf(bytes(u32(11), u32(999), u32(2)))).toBe("bad_flags");
  });
});

describe("bad_len", () => {
  const report = datagram(11, 0, reportBody());
  test("header len larger than the bytes that follow", () => {
    const b = report.slice();
    b[7] = 105;
    expect(reasonOf(b)).toBe("bad_len");
  });
  test("header len smaller than the bytes that follow", () => {
    expect(reasonOf(bytes(report, [0, 0, 0, 0]))).toBe("bad_len");
  });
  test("truncated report (header says 104)", () => {
    expect(reasonOf(report.subarray(0, 100))).toBe("bad_len");
  });
  test("report len 100, consistent with the size", () => {
    expect(reasonOf(datagram(11, 0, reportBody().slice(0, 100)))).toBe("bad_len");
  });
  test("report len 136 without the AUTH flag", () => {
    expect(reasonOf(datagram(11, 0, [...AUTH, ...reportBody()]))).toBe("bad_len");
  });
  test("report len 104 with the AUTH flag", () => {
    expect(reasonOf(datagram(11, 1, reportBody()))).toBe("bad_len");
  });
  test("AUTH flag with len < 32", () => {
    expect(reasonOf(datagram(13, 1, AUTH.slice(0, 16)))).toBe("bad_len");
    expect(reasonOf(datagram(11, 1, []))).toBe("bad_len");
  });
  test("ACK with a payload", () => {
    expect(reasonOf(datagram(13, 0, [0, 0, 0, 0]))).toBe("bad_len");
    expect(reasonOf(datagram(13, 1, [...AUTH, 0, 0, 0, 0]))).toBe("bad_len");
  });
  test("MASTER_SYNC shorter than its fixed part, or records that disagree with count", () => {
    expect(reasonOf(datagram(12, 0, []))).toBe("bad_len");
    expect(reasonOf(datagram(12, 0, syncHead().slice(0, 16)))).toBe("bad_len");
    expect(reasonOf(datagram(12, 0, [...syncHead({ count: 2 }), ...syncRecord()]))).toBe("bad_len");
    expect(reasonOf(datagram(12, 0, [...syncHead({ count: 0 }), ...syncRecord()]))).toBe("bad_len");
    expect(reasonOf(datagram(12, 0, [...syncHead({ count: 1 }), ...syncRecord().slice(0, 100)]))).toBe("bad_len");
  });
  test("MASTER_SYNC with more than 7 records is too long even when count agrees", () => {
    // 8 records do not fit 1024 bytes: long before anything else.
    expect(reasonOf(sync({}, ...Array.from({ length: 8 }, () => syncRecord())))).toBe("long");
    // A count of 8 over a shorter body.
    expect(reasonOf(datagram(12, 0, [...syncHead({ count: 8 }), ...syncRecord()]))).toBe("bad_len");
  });
  test("MASTER_SYNC header values", () => {
    expect(reasonOf(sync({ termHi: 0x0020_0000 }))).toBe("bad_value"); // term ≥ 2^53
    expect(reasonOf(sync({ termHi: 0x001f_ffff }))).toBe("ok");
    expect(reasonOf(sync({ batch: 0 }))).toBe("bad_value");
    expect(reasonOf(sync({ flags: 4 }))).toBe("bad_value");
    expect(reasonOf(sync({ reserved: 1 }))).toBe("bad_value");
  });
  test("MASTER_SYNC record values", () => {
    expect(reasonOf(sync({}, syncRecord({ hostId: 0 })))).toBe("bad_value");
    expect(reasonOf(sync({}, syncRecord({ flags: 4 })))).toBe("bad_value");
    expect(reasonOf(sync({}, syncRecord({ reserved: 1 })))).toBe("bad_value");
    expect(reasonOf(sync({}, syncRecord({ flags: 0, age: 5 })))).toBe("bad_value");
    expect(reasonOf(sync({}, syncRecord({ flags: 0, report: reportBody() })))).toBe("bad_value");
    expect(reasonOf(sync({}, syncRecord(), syncRecord({ report: reportBody({ load1: NaN }) })))).toBe("non_finite");
    expect(reasonOf(sync({}, syncRecord({ report: reportBody({ memFree: -1 }) })))).toBe("negative");
    expect(reasonOf(sync({}, syncRecord({ report: reportBody({ ncpus: 0 }) })))).toBe("bad_value");
  });
  test("announce shorter than its fixed part", () => {
    expect(reasonOf(datagram(10, 0, annBody().slice(0, 20)))).toBe("bad_len");
    expect(reasonOf(datagram(10, 1, AUTH))).toBe("bad_len");
  });
  test("announce addr_len overruns len", () => {
    expect(reasonOf(datagram(10, 0, annBody({ addrLen: 200 })))).toBe("bad_len");
    expect(reasonOf(datagram(10, 0, annBody({ addrLen: 0xffff })))).toBe("bad_len");
  });
  test("announce bitmap_len overruns len", () => {
    expect(reasonOf(datagram(10, 0, annBody({ bitmapLen: 64 })))).toBe("bad_len");
  });
  test("announce fields underrun len (4 bytes too many)", () => {
    expect(reasonOf(datagram(10, 0, [...annBody(), 0, 0, 0, 0]))).toBe("bad_len");
  });
  test("announce without its padding", () => {
    expect(reasonOf(datagram(10, 0, annBody({ pad: [] })))).toBe("bad_len"); // 24 + 13 + 1 = 38 bytes
  });
});

describe("non_finite", () => {
  for (const k of VEC_KEYS) {
    for (const v of [NaN, Infinity, -Infinity]) {
      test(`${k} = ${v}`, () => expect(reasonOf(datagram(11, 0, reportBody({ [k]: v })))).toBe("non_finite"));
    }
  }
  test("a NaN with a non-canonical payload", () => {
    const b = datagram(11, 0, reportBody());
    b.set([0x7f, 0xf0, 0, 0, 0, 0, 0, 1], 12 + 8 * 3); // signalling NaN in memUsed
    expect(reasonOf(b)).toBe("non_finite");
  });
  test("is named before negative", () => {
    expect(reasonOf(datagram(11, 0, reportBody({ load1: -1, cpuIdle: NaN })))).toBe("non_finite");
  });
  test("with AUTH", () => {
    expect(reasonOf(datagram(11, 1, [...AUTH, ...reportBody({ ncpus: Infinity })]))).toBe("non_finite");
  });
});

describe("negative", () => {
  for (const k of VEC_KEYS) {
    test(`${k} = -1`, () => expect(reasonOf(datagram(11, 0, reportBody({ [k]: -1 })))).toBe("negative"));
  }
  test("the smallest negative subnormal", () => {
    expect(reasonOf(datagram(11, 0, reportBody({ swapUsed: -Number.MIN_VALUE })))).toBe("negative");
  });
  test("-0 is accepted", () => {
    expect(reasonOf(datagram(11, 0, reportBody({ load1: -0, swapUsed: -0 })))).toBe("ok");
  });
  test("is named before bad_value", () => {
    expect(reasonOf(datagram(11, 0, reportBody({ load1: -1, cpuUser: 1000 })))).toBe("negative");
  });
});

describe("bad_value in a report", () => {
  const cases: [string, Partial<Vec>][] = [
    ["load1 above 2^22", { load1: 2 ** 22 + 1 }],
    ["load15 huge", { load15: 1e300 }],
    ["memUsed above 2^53", { memUsed: 2 ** 53 + 2 }],
    ["swapFree above 2^53", { swapFree: 1e17 }],
    ["ncpus 0", { ncpus: 0 }],
    ["ncpus -0", { ncpus: -0 }],
    ["ncpus above 65536", { ncpus: 65537 }],
    ["cpuUser 101", { cpuUser: 101, cpuSys: 0, cpuIdle: 0 }],
    ["cpuIdle 100.6", { cpuUser: 0, cpuSys: 0, cpuIdle: 100.6 }],
    ["cpu sum 101", { cpuUser: 50, cpuSys: 20, cpuIdle: 31 }],
  ];
  for (const [name, over] of cases) {
    test(name, () => expect(reasonOf(datagram(11, 0, reportBody(over)))).toBe("bad_value"));
  }
  const edges: [string, Partial<Vec>][] = [
    ["load at 2^22", { load1: 2 ** 22, load5: 2 ** 22, load15: 2 ** 22 }],
    ["memory at 2^53", { memUsed: 2 ** 53, memFree: 2 ** 53, swapUsed: 2 ** 53, swapFree: 2 ** 53 }],
    ["fractional ncpus 0.5", { ncpus: 0.5 }],
    ["ncpus 65536", { ncpus: 65536 }],
    ["cpu sum 100.5", { cpuUser: 0, cpuSys: 0.5, cpuIdle: 100 }],
    ["all zero load and cpu", { load1: 0, load5: 0, load15: 0, cpuUser: 0, cpuSys: 0, cpuIdle: 0 }],
  ];
  for (const [name, over] of edges) {
    test(`accepted: ${name}`, () => expect(reasonOf(datagram(11, 0, reportBody(over)))).toBe("ok"));
  }
  test("accepted: u32 stats at their maximum", () => {
    expect(reasonOf(datagram(11, 0, reportBody({}, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff])))).toBe("ok");
  });
});

describe("bad_value in an announce", () => {
  const cases: [string, AnnOpts][] = [
    ["addr_len 0", { addr: [] }],
    ["addr_len 256", { addr: ascii("h".repeat(251) + ":6880") }],
    ["term 2^53", { termHi: 0x200000, termLo: 0 }],
    ["term 2^64-1", { termHi: 0xffffffff, termLo: 0xffffffff }],
    ["interval 0", { interval: 0 }],
    ["interval 99", { interval: 99 }],
    ["interval 3600001", { interval: 3_600_001 }],
    ["window past id 2^32-1", { base: 0xfffffff9, bitmap: [0x80] }],
    ["address byte 0xff", { addr: [...ascii("h"), 0xff, ...ascii(":80")] }],
    ["address overlong NUL (c0 80)", { addr: [...ascii("h"), 0xc0, 0x80, ...ascii(":80")] }],
    ["address UTF-16 surrogate (ed a0 80)", { addr: [...ascii("h"), 0xed, 0xa0, 0x80, ...ascii(":80")] }],
    ["address truncated sequence (e2 82)", { addr: [...ascii("h:80"), 0xe2, 0x82] }],
    ["address with a BOM", { addr: [0xef, 0xbb, 0xbf, ...ascii("h:80")] }],
    ["nonzero padding", { pad: [0, 1] }], // 24 + 13 + 1 = 38 bytes: 2 of padding
  ];
  for (const addr of ["host", "host:", ":6880", "h:0", "h:65536", "h:123456", "h:8a", "a b:80", "h\t:80", "h\u0085:80", "::1:80", "[::1:80"]) {
    cases.push([`address ${JSON.stringify(addr)}`, { addr: ascii(addr) }]);
  }
  for (const [name, o] of cases) {
    test(name, () => expect(reasonOf(datagram(10, 0, annBody(o)))).toBe("bad_value"));
  }
  const edges: [string, AnnOpts][] = [
    ["term 2^53-1", { termHi: 0x1fffff, termLo: 0xffffffff }],
    ["interval 100", { interval: 100 }],
    ["interval 3600000", { interval: 3_600_000 }],
    ["addr_len 255", { addr: ascii("h".repeat(250) + ":6880") }],
    ["IPv6 literal", { addr: ascii("[fe80::1%eth0]:6880") }],
    ["non-ASCII host name", { addr: ascii("höst.example:65535") }],
    ["empty bitmap", { bitmap: [] }],
    ["window ending at id 2^32-1", { base: 0xfffffff8, bitmap: [0x01] }],
  ];
  for (const [name, o] of edges) {
    test(`accepted: ${name}`, () => expect(reasonOf(datagram(10, 0, annBody(o)))).toBe("ok"));
  }
});

test("every codec-assigned reason has a case above", () => {
  // The codec assigns the first eight reasons; the rest are the master's.
  const codec = DROP_REASONS.slice(0, 8);
  expect(codec).toEqual(["short", "long", "bad_len", "unknown_op", "bad_flags", "non_finite", "negative", "bad_value"]);
});

test("drops allocate nothing: one frozen result per reason", () => {
  const a = decodeDatagram(new Uint8Array(3));
  const b = decodeDatagram(new Uint8Array(5));
  expect(a).toBe(b);
  expect(Object.isFrozen(a)).toBe(true);
});

test("encodeHeader writes big-endian u32s and refuses non-u32", () => {
  expect([...encodeHeader(0x0a0b0c0d, 1, 0xffffffff)]).toEqual([10, 11, 12, 13, 0, 0, 0, 1, 255, 255, 255, 255]);
  expect(() => encodeHeader(-1, 0, 0)).toThrow(RangeError);
  expect(() => encodeHeader(11, 2 ** 32, 0)).toThrow(RangeError);
  expect(() => encodeHeader(11, 0, 0.5)).toThrow(RangeError);
});
