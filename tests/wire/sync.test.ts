/**
 * MASTER_SYNC (op 12) encoder and decoder: round trips, the encoder's
 * contract (RangeError for what the decoder would drop, saturation of the
 * counters), and the session tag.
 */
import { describe, expect, test } from "bun:test";
import { decodeDatagram, encodeSync, sessionTag, SYNC_RECORDS_MAX, type LoadReport, type SyncRecord } from "../../src/wire/index.ts";

const R: LoadReport = { load1: 1.5, load5: 1, load15: 0.5, memUsed: 2 ** 33, memFree: 2 ** 34, swapUsed: 0, swapFree: 2 ** 30, ncpus: 16, cpuUser: 40, cpuSys: 10, cpuIdle: 50, jobsRunning: 3, jobsPending: 0, procsTotal: 900, flags: 5 };
const rec = (hostId: number, over: Partial<SyncRecord> = {}): SyncRecord => ({ hostId, session: 77, seq: 1000 + hostId, ageMs: 120, channel: true, lost: 2, received: 500, report: R, ...over });

describe("encodeSync / decodeDatagram", () => {
  test("round trip, 0 to 7 records, with and without reports", () => {
    for (let n = 0; n <= SYNC_RECORDS_MAX; n++) {
      const records = Array.from({ length: n }, (_, i) => rec(i + 1, i % 2 ? { report: null, ageMs: 0, channel: false } : {}));
      const buf = encodeSync({ nodeId: 3, term: 2 ** 40, batch: 9, full: n % 2 === 0, last: n === 7 }, records);
      expect(buf.length).toBeLessThanOrEqual(1024);
      const d = decodeDatagram(buf);
      if (!d.ok || d.op !== 12) throw new Error(JSON.stringify(d));
      expect(d.sync).toEqual({ nodeId: 3, term: 2 ** 40, batch: 9, full: n % 2 === 0, last: n === 7, records });
    }
  });

  test("a record without a report goes out with age 0 whatever it was given", () => {
    const d = decodeDatagram(encodeSync({ nodeId: 1, term: 1, batch: 1, full: false, last: true }, [rec(5, { report: null, ageMs: 999 })]));
    expect(d.ok && d.op === 12 && d.sync.records[0]!.ageMs).toBe(0);
  });

  test("lost and received saturate at 2^32 − 1", () => {
    const d = decodeDatagram(encodeSync({ nodeId: 1, term: 1, batch: 1, full: false, last: true }, [rec(5, { lost: 2 ** 40, received: 2 ** 33 })]));
    expect(d.ok && d.op === 12 && d.sync.records[0]).toMatchObject({ lost: 2 ** 32 - 1, received: 2 ** 32 - 1 });
  });

  test("RangeError for what the decoder would drop", () => {
    const h = { nodeId: 1, term: 1, batch: 1, full: false, last: true };
    expect(() => encodeSync({ ...h, batch: 0 }, [])).toThrow(RangeError);
    expect(() => encodeSync({ ...h, term: 2 ** 53 }, [])).toThrow(RangeError);
    expect(() => encodeSync(h, [rec(0)])).toThrow(RangeError);
    expect(() => encodeSync(h, Array.from({ length: 8 }, (_, i) => rec(i + 1)))).toThrow(RangeError);
    expect(() => encodeSync(h, [rec(1, { seq: -1 })])).toThrow(RangeError);
    expect(() => encodeSync(h, [rec(1, { report: { ...R, procsTotal: 2 ** 32 } })])).toThrow(RangeError);
  });
});

describe("sessionTag", () => {
  test("FNV-1a 32 of the nonce's UTF-8 bytes", () => {
    expect(sessionTag("a")).toBe(0xe40c292c);
    expect(sessionTag("foobar")).toBe(0xbf9cf968);
  });
  test("never 0, and differs between nonces", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const t = sessionTag(`nonce-${i}`);
      expect(t).not.toBe(0);
      seen.add(t);
    }
    expect(seen.size).toBe(10_000);
  });
});
