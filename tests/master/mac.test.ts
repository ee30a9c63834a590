import { describe, expect, test } from "bun:test";
import { encodeReport, verifyTag, writeTag, type LoadReport } from "../../src/wire/index.ts";
import { KeyedMac, tagVerifier } from "../../src/master/mac.ts";

const R: LoadReport = { load1: 1, load5: 2, load15: 3, memUsed: 4, memFree: 5, swapUsed: 6, swapFree: 7, ncpus: 8, cpuUser: 9, cpuSys: 10, cpuIdle: 11, jobsRunning: 1, jobsPending: 2, procsTotal: 3, flags: 0 };

describe("tagVerifier", () => {
  test("agrees with wire.verifyTag on good, tampered, wrong-key and unauthenticated datagrams", () => {
    const verify = tagVerifier();
    const key = crypto.getRandomValues(new Uint8Array(32));
    const other = crypto.getRandomValues(new Uint8Array(32));
    for (let seq = 1; seq <= 50; seq++) {
      const good = encodeReport(R, { hostId: 3, seq, key });
      expect(verify(good, key)).toBe(true);
      expect(verify(good, other)).toBe(false);
      const bad = good.slice();
      bad[seq % bad.length]! ^= 1 << seq % 8;
      expect(verify(bad, key)).toBe(verifyTag(bad, key));
      expect(verify(bad, key)).toBe(false);
    }
    expect(verify(encodeReport(R), key)).toBe(false);
    expect(verify(new Uint8Array(10), key)).toBe(false);
  });
});

describe("KeyedMac.sign", () => {
  test("writes the tag wire.writeTag writes, for one buffer reused and for fresh ones, under many keys", () => {
    const mac = new KeyedMac();
    const reused = encodeReport(R, { hostId: 1, seq: 1, key: new Uint8Array(32) });
    for (let i = 0; i < 20; i++) {
      const key = crypto.getRandomValues(new Uint8Array(32));
      const fresh = encodeReport({ ...R, load1: i }, { hostId: i, seq: i + 1, key: new Uint8Array(32) });
      for (const buf of [fresh, reused]) {
        const want = buf.slice();
        writeTag(want, key);
        mac.sign(buf, key);
        expect(buf).toEqual(want);
        expect(mac.verify(buf, key)).toBe(true);
      }
    }
  });
});
