/** verifyTag: the HMAC covers every byte of the datagram except the tag itself. */
import { createHmac } from "node:crypto";
import { describe, expect, test } from "bun:test";
import { decodeDatagram, encodeAnnounce, encodeHeader, encodeReport, verifyTag, writeTag, type LoadReport } from "../../src/wire/index.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 ^ i);
const OTHER_KEY = Uint8Array.from(KEY, (b, i) => (i === 31 ? b ^ 1 : b));
const REPORT: LoadReport = {
  load1: 1.5, load5: 1.25, load15: 1, memUsed: 3e9, memFree: 5e9, swapUsed: 0, swapFree: 1e9,
  ncpus: 16, cpuUser: 30, cpuSys: 10, cpuIdle: 60, jobsRunning: 3, jobsPending: 0, procsTotal: 420, flags: 0,
};

const datagrams: [string, Uint8Array][] = [
  ["SLAVE_REPORT", encodeReport(REPORT, { hostId: 12, seq: 1000, key: KEY })],
  [
    "MASTER_ANN",
    encodeAnnounce(
      { nodeId: 3, term: 9, reportIntervalMs: 2000, leaderAddr: "m3:6880", windowBase: 1, activeHostIds: [1, 2, 12, 40] },
      { hostId: 0, seq: 5, key: KEY },
    ),
  ],
];

/** An ACK with an AUTH block, tagged by hand (the codec has no ACK encoder). */
function handAck(key: Uint8Array): Uint8Array {
  const b = new Uint8Array(44);
  b.set(encodeHeader(13, 32, 1));
  b.set([0, 0, 0, 4, 0, 0, 0, 8], 12);
  const mac = createHmac("sha256", key).update(b.subarray(0, 20)).digest();
  b.set(mac.subarray(0, 24), 20);
  return b;
}
datagrams.push(["ACK (tagged by hand)", handAck(KEY)]);

describe("verifyTag", () => {
  for (const [name, buf] of datagrams) {
    describe(name, () => {
      test("decodes with an AUTH block", () => {
        const d = decodeDatagram(buf);
        expect(d.ok && d.auth !== null).toBe(true);
      });
      test("good key: true", () => expect(verifyTag(buf, KEY)).toBe(true));
      test("wrong key (one bit off): false", () => expect(verifyTag(buf, OTHER_KEY)).toBe(false));
      test("empty and long keys: false", () => {
        expect(verifyTag(buf, new Uint8Array(0))).toBe(false);
        expect(verifyTag(buf, new Uint8Array(64))).toBe(false);
      });
      test(`every single flipped bit (${buf.length * 8}) in header, AUTH block and payload: false`, () => {
        const m = buf.slice();
        let accepted = 0;
        for (let bit = 0; bit < m.length * 8; bit++) {
          m[bit >> 3]! ^= 0x80 >> (bit & 7);
          if (verifyTag(m, KEY)) accepted++;
          m[bit >> 3]! ^= 0x80 >> (bit & 7);
        }
        expect(accepted).toBe(0);
        expect(verifyTag(m, KEY)).toBe(true); // restored
      });
      test("works on a view at an odd byteOffset", () => {
        const big = new Uint8Array(buf.length + 9).fill(0x55);
        big.set(buf, 3);
        expect(verifyTag(big.subarray(3, 3 + buf.length), KEY)).toBe(true);
        expect(verifyTag(big.subarray(3, 4 + buf.length), KEY)).toBe(false); // one trailing byte included
      });
    });
  }

  test("the tag is HMAC-SHA256 over header ‖ host_id ‖ seq ‖ payload, truncated to 24 bytes", () => {
    const [, buf] = datagrams[0]!;
    const expected = createHmac("sha256", KEY).update(Buffer.concat([buf.subarray(0, 20), buf.subarray(44)])).digest().subarray(0, 24);
    expect(Buffer.from(buf.subarray(20, 44)).equals(expected)).toBe(true);
  });

  test("the key's bytes matter, not only its length", () => {
    const a = encodeReport(REPORT, { hostId: 1, seq: 1, key: new Uint8Array(32) });
    const b = encodeReport(REPORT, { hostId: 1, seq: 1, key: new Uint8Array(32).fill(1) });
    expect(a.subarray(20, 44)).not.toEqual(b.subarray(20, 44));
  });

  test("returns false, never throws, for datagrams without an AUTH block or too short", () => {
    expect(verifyTag(encodeReport(REPORT), KEY)).toBe(false);
    expect(verifyTag(new Uint8Array(0), KEY)).toBe(false);
    expect(verifyTag(new Uint8Array(43).fill(1), KEY)).toBe(false);
    expect(verifyTag(new Uint8Array(1025).fill(1), KEY)).toBe(false);
  });

  test("writeTag re-signs a copy for another host_id, seq and key", () => {
    const template = encodeReport(REPORT, { hostId: 0, seq: 0, key: new Uint8Array(32) });
    const copy = template.slice();
    const dv = new DataView(copy.buffer);
    dv.setUint32(12, 12, false);
    dv.setUint32(16, 1000, false);
    writeTag(copy, KEY);
    expect([...copy]).toEqual([...datagrams[0]![1]]);
    expect(verifyTag(copy, KEY)).toBe(true);
    expect(() => writeTag(encodeReport(REPORT), KEY)).toThrow(RangeError); // no AUTH flag
    expect(() => writeTag(new Uint8Array(40), KEY)).toThrow(RangeError);
  });
});
