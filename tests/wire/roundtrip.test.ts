/** Encode → decode round trips, view-offset buffers, encoder preconditions, TCP framing. */
import { describe, expect, test } from "bun:test";
import {
  AUTH_BLOCK_BYTES,
  HEADER_BYTES,
  MAX_DATAGRAM_BYTES,
  REPORT_FIELDS,
  REPORT_PAYLOAD_BYTES,
  decodeDatagram,
  encodeAnnounce,
  encodeFrame,
  encodeReport,
  maxAnnounceBitmapBytes,
  splitFrames,
  verifyTag,
  type Announce,
  type LoadReport,
} from "../../src/wire/index.ts";
import { seededRng as mulberry32 } from "../../src/rng/index.ts";

const SEED = 0x5eed_0001;
const rand = mulberry32(SEED);
const int = (n: number): number => Math.floor(rand() * n);

function randomReport(): LoadReport {
  const cpuUser = rand() * 100;
  const cpuSys = rand() * (100 - cpuUser);
  return {
    load1: rand() * 64,
    load5: rand() * 64,
    load15: rand() * 64,
    memUsed: int(2 ** 40),
    memFree: int(2 ** 40),
    swapUsed: rand() * 2 ** 33,
    swapFree: int(2 ** 33),
    ncpus: 1 + int(256),
    cpuUser,
    cpuSys,
    cpuIdle: 100 - cpuUser - cpuSys,
    jobsRunning: int(1000),
    jobsPending: int(2 ** 32),
    procsTotal: int(100_000),
    flags: int(2 ** 32),
  };
}
const key32 = (): Uint8Array => Uint8Array.from({ length: 32 }, () => int(256));

/** Copies `b` into a larger buffer at an odd offset, with junk on both sides. */
function inView(b: Uint8Array, offset = 7): Uint8Array {
  const big = new Uint8Array(offset + b.length + 13).fill(0xee);
  big.set(b, offset);
  return big.subarray(offset, offset + b.length);
}

function decodeReport(buf: Uint8Array) {
  const d = decodeDatagram(buf);
  if (!d.ok || d.op !== 11) throw new Error(`expected a report, got ${JSON.stringify(d)}`);
  return d;
}
function decodeAnnounce(buf: Uint8Array) {
  const d = decodeDatagram(buf);
  if (!d.ok || d.op !== 10) throw new Error(`expected an announce, got ${JSON.stringify(d)}`);
  return d;
}

describe("SLAVE_REPORT round trip", () => {
  test("REPORT_FIELDS lists the 15 fields in wire order", () => {
    expect([...REPORT_FIELDS]).toEqual([
      "load1", "load5", "load15", "memUsed", "memFree", "swapUsed", "swapFree", "ncpus",
      "cpuUser", "cpuSys", "cpuIdle", "jobsRunning", "jobsPending", "procsTotal", "flags",
    ]);
  });

  test("without AUTH: 116 bytes, 1000 random reports decode to themselves", () => {
    for (let i = 0; i < 1000; i++) {
      const r = randomReport();
      const buf = encodeReport(r);
      expect(buf.length).toBe(HEADER_BYTES + REPORT_PAYLOAD_BYTES);
      expect(decodeReport(buf)).toEqual({ ok: true, op: 11, report: r, auth: null });
    }
  });

  test("with AUTH: 148 bytes, hostId/seq/tag decoded, tag verifies", () => {
    for (let i = 0; i < 1000; i++) {
      const r = randomReport();
      const key = key32();
      const hostId = int(2 ** 32);
      const seq = int(2 ** 32);
      const buf = encodeReport(r, { hostId, seq, key });
      expect(buf.length).toBe(HEADER_BYTES + AUTH_BLOCK_BYTES + REPORT_PAYLOAD_BYTES);
      const d = decodeReport(buf);
      expect(d.report).toEqual(r);
      expect(d.auth?.hostId).toBe(hostId);
      expect(d.auth?.seq).toBe(seq);
      expect(d.auth?.tag).toEqual(buf.subarray(20, 44));
      expect(verifyTag(buf, key)).toBe(true);
    }
  });

  test("u32 edge values and -0 survive", () => {
    const r = { ...randomReport(), jobsRunning: 0, jobsPending: 0xffffffff, procsTotal: 1, flags: 0x80000001, load1: -0 };
    const d = decodeReport(encodeReport(r, { hostId: 0xffffffff, seq: 0, key: new Uint8Array(0) }));
    expect(d.report).toEqual(r);
    expect(Object.is(d.report.load1, -0)).toBe(true);
    expect(d.auth?.hostId).toBe(0xffffffff);
  });

  test("decodes from a view at a nonzero byteOffset, ignoring bytes around it", () => {
    const r = randomReport();
    const key = key32();
    for (const buf of [encodeReport(r), encodeReport(r, { hostId: 3, seq: 9, key })]) {
      for (const off of [1, 3, 7, 8, 1000]) {
        const v = inView(buf, off);
        expect(v.byteOffset).toBe(off);
        const d = decodeReport(v);
        expect(d.report).toEqual(r);
        if (d.auth) {
          expect(d.auth.tag.byteOffset).toBe(off + 20);
          expect(verifyTag(v, key)).toBe(true);
        }
      }
    }
  });

  test("decodes from a Node Buffer slice (what Bun UDP hands out)", () => {
    const buf = encodeReport(randomReport());
    const pool = Buffer.alloc(4096, 0xff);
    pool.set(buf, 100);
    expect(decodeDatagram(pool.subarray(100, 100 + buf.length)).ok).toBe(true);
  });

  test("the encoder writes bad f64 values verbatim (the master counts them)", () => {
    const d = decodeDatagram(encodeReport({ ...randomReport(), load1: NaN }));
    expect(d).toEqual({ ok: false, reason: "non_finite" });
    expect(decodeDatagram(encodeReport({ ...randomReport(), memFree: -1 }))).toEqual({ ok: false, reason: "negative" });
  });

  test("the encoder refuses u32 fields out of range", () => {
    const r = randomReport();
    expect(() => encodeReport({ ...r, jobsRunning: -1 })).toThrow(RangeError);
    expect(() => encodeReport({ ...r, procsTotal: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeReport({ ...r, flags: 1.5 })).toThrow(RangeError);
    expect(() => encodeReport(r, { hostId: -1, seq: 0, key: new Uint8Array(32) })).toThrow(RangeError);
    expect(() => encodeReport(r, { hostId: 1, seq: NaN, key: new Uint8Array(32) })).toThrow(RangeError);
  });
});

describe("MASTER_ANN round trip", () => {
  const base: Announce = { nodeId: 2, term: 17, reportIntervalMs: 4000, leaderAddr: "master-2.example:6880", windowBase: 1, activeHostIds: [] };

  function sortedUnique(ids: number[]): number[] {
    return [...new Set(ids)].sort((x, y) => x - y);
  }

  function check(a: Announce, auth?: { hostId: number; seq: number; key: Uint8Array }): void {
    const buf = encodeAnnounce(a, auth);
    expect(buf.length).toBeLessThanOrEqual(MAX_DATAGRAM_BYTES);
    expect(buf.length % 4).toBe(0);
    for (const v of [buf, inView(buf, 5)]) {
      const d = decodeAnnounce(v);
      const { bitmap, ...rest } = d.announce;
      const bitmapBytes = a.bitmapBytes ?? (a.activeHostIds.length ? ((Math.max(...a.activeHostIds) - a.windowBase) >> 3) + 1 : 0);
      expect(rest).toEqual({ ...a, activeHostIds: sortedUnique(a.activeHostIds), bitmapBytes });
      expect(bitmap.length).toBe(bitmapBytes);
      if (auth) {
        expect(d.auth?.hostId).toBe(auth.hostId);
        expect(d.auth?.seq).toBe(auth.seq);
        expect(verifyTag(v, auth.key)).toBe(true);
      } else {
        expect(d.auth).toBeNull();
      }
      // Re-encoding the decoded announce reproduces the datagram byte for byte.
      expect(encodeAnnounce(d.announce, auth)).toEqual(buf);
    }
  }

  const bitmapCases: [string, number, number[]][] = [
    ["no active hosts", 1, []],
    ["one host at the window base", 1, [1]],
    ["ids 1..8 (one byte)", 1, [1, 2, 3, 4, 5, 6, 7, 8]],
    ["ids 1..9 (two bytes)", 1, [1, 2, 3, 4, 5, 6, 7, 8, 9]],
    ["bit 7 of the last byte", 0, [7, 15]],
    ["sparse, unsorted, with duplicates", 100, [6900, 100, 4711, 100, 2500]],
    ["dense 1000 hosts", 1, Array.from({ length: 1000 }, (_, i) => i + 1)],
    ["high window base", 0xffff0000, [0xffff0000, 0xffff0123, 0xffff07ff]],
    ["window ending at 2^32-1", 0xfffffff8, [0xffffffff]],
  ];
  for (const [name, windowBase, ids] of bitmapCases) {
    test(`${name}, without and with AUTH`, () => {
      const a = { ...base, windowBase, activeHostIds: ids };
      check(a);
      check(a, { hostId: 1, seq: 77, key: key32() });
    });
  }

  test("explicit bitmapBytes wider than the active ids (window covers inactive ids)", () => {
    check({ ...base, activeHostIds: [1, 5], bitmapBytes: 64 });
    check({ ...base, activeHostIds: [], bitmapBytes: 3 });
  });

  test("random windows up to the maximum bitmap, dense and sparse", () => {
    for (let i = 0; i < 200; i++) {
      const withAuth = rand() < 0.5;
      const addr = `10.${int(256)}.${int(256)}.${int(256)}:${1 + int(65535)}`;
      const max = maxAnnounceBitmapBytes(addr.length, withAuth);
      const bitmapBytes = int(max + 1);
      const windowBase = int(2 ** 31);
      const density = rand();
      const ids: number[] = [];
      for (let b = 0; b < bitmapBytes * 8; b++) if (rand() < density) ids.push(windowBase + b);
      const a: Announce = { ...base, term: int(2 ** 53), nodeId: int(2 ** 32), leaderAddr: addr, windowBase, activeHostIds: ids, bitmapBytes };
      check(a, withAuth ? { hostId: int(2 ** 32), seq: int(2 ** 32), key: key32() } : undefined);
    }
  });

  test("term up to 2^53-1, IPv6 and UTF-8 addresses", () => {
    check({ ...base, term: Number.MAX_SAFE_INTEGER });
    check({ ...base, term: 2 ** 32 });
    check({ ...base, leaderAddr: "[2001:db8::1]:6880" });
    check({ ...base, leaderAddr: "maître.example:80" });
  });

  test("maxAnnounceBitmapBytes fills a datagram to at most 1024 bytes, for every address length", () => {
    expect(maxAnnounceBitmapBytes(13, false)).toBe(975);
    expect(maxAnnounceBitmapBytes(13, true)).toBe(943);
    for (const withAuth of [false, true]) {
      const auth = withAuth ? { hostId: 1, seq: 1, key: new Uint8Array(32) } : undefined;
      for (let addrLen = 1; addrLen <= 255; addrLen++) {
        if (addrLen < 3) continue; // "h:1" is the shortest host:port
        const leaderAddr = "h".repeat(addrLen - 2) + ":1";
        const max = maxAnnounceBitmapBytes(addrLen, withAuth);
        const a = { ...base, leaderAddr, activeHostIds: [1], bitmapBytes: max };
        const buf = encodeAnnounce(a, auth);
        expect(buf.length).toBeGreaterThan(MAX_DATAGRAM_BYTES - 4);
        expect(buf.length).toBeLessThanOrEqual(MAX_DATAGRAM_BYTES);
        expect(decodeDatagram(buf).ok).toBe(true);
        expect(() => encodeAnnounce({ ...a, bitmapBytes: max + 1 }, auth)).toThrow(RangeError);
      }
    }
    expect(() => maxAnnounceBitmapBytes(0, false)).toThrow(RangeError);
    expect(() => maxAnnounceBitmapBytes(256, false)).toThrow(RangeError);
  });

  test("the encoder refuses what the decoder would drop", () => {
    const bad: Partial<Announce>[] = [
      { nodeId: -1 },
      { term: -1 },
      { term: 2 ** 53 },
      { term: 1.5 },
      { reportIntervalMs: 99 },
      { reportIntervalMs: 3_600_001 },
      { windowBase: 2 ** 32 },
      { leaderAddr: "" },
      { leaderAddr: "no-port" },
      { leaderAddr: "h".repeat(253) + ":80" }, // 256 bytes
      { leaderAddr: "é".repeat(127) + ":80" }, // 2·127 + 3 = 257 UTF-8 bytes, 130 UTF-16 units
      { leaderAddr: "h :80" },
      { windowBase: 10, activeHostIds: [9] },
      { activeHostIds: [1, 100], bitmapBytes: 2 },
      { activeHostIds: [1.5] },
      { windowBase: 0xfffffff9, activeHostIds: [0xfffffff9] },
    ];
    for (const over of bad) expect(() => encodeAnnounce({ ...base, ...over })).toThrow(RangeError);
    expect(() => encodeAnnounce({ ...base, leaderAddr: "é".repeat(126) + ":80" })).not.toThrow(); // 255 bytes
    expect(() => encodeAnnounce({ ...base, leaderAddr: "h".repeat(252) + ":80" })).not.toThrow(); // 255 bytes
  });
});

describe("TCP framing", () => {
  test("frames split back into the same datagrams, across any chunking", () => {
    const dgs = [encodeReport(randomReport()), encodeAnnounce({ nodeId: 1, term: 1, reportIntervalMs: 4000, leaderAddr: "a:1", windowBase: 0, activeHostIds: [3] }), encodeReport(randomReport(), { hostId: 1, seq: 2, key: key32() })];
    const stream = Uint8Array.from(dgs.flatMap((d) => [...encodeFrame(d)]));
    expect(stream.length).toBe(dgs.reduce((n, d) => n + 4 + d.length, 0));
    for (let cut = 0; cut <= stream.length; cut += 5) {
      // Feed the stream in two chunks, carrying the remainder over like a transport would.
      const got: Uint8Array[] = [];
      let pending = new Uint8Array(0);
      for (const chunk of [stream.subarray(0, cut), stream.subarray(cut)]) {
        const joined = new Uint8Array(pending.length + chunk.length);
        joined.set(pending);
        joined.set(chunk, pending.length);
        const s = splitFrames(joined);
        if (!s.ok) throw new Error(s.reason);
        got.push(...s.frames.map((f) => f.slice()));
        pending = joined.slice(s.consumed);
      }
      expect(pending.length).toBe(0);
      expect(got).toEqual(dgs);
    }
  });

  test("a frame size outside 12..1024 is short or long", () => {
    expect(splitFrames(Uint8Array.of(0, 0, 0, 11))).toEqual({ ok: false, reason: "short" });
    expect(splitFrames(Uint8Array.of(0, 0, 4, 1, 1, 2))).toEqual({ ok: false, reason: "long" });
    expect(splitFrames(Uint8Array.of(0, 0, 4))).toEqual({ ok: true, frames: [], consumed: 0 });
    expect(() => encodeFrame(new Uint8Array(1025))).toThrow(RangeError);
  });
});
