/**
 * Fuzz / property test: 100,000 inputs through decodeDatagram (and verifyTag
 * when it accepts a datagram with AUTH). Never throws; always ok or a codec
 * drop reason; a tag verifies exactly when the bytes are the ones signed.
 *
 * Seeded (mulberry32) so a failure replays:
 *   LAVA_FUZZ_SEED=<n> bun test tests/wire/fuzz.test.ts
 * The failure message prints the seed, the case index and the input.
 */
import { expect, test } from "bun:test";
import {
  DROP_REASONS,
  decodeDatagram,
  encodeAnnounce,
  encodeHeader,
  encodeReport,
  encodeSync,
  verifyTag,
  type DropReason,
  type LoadReport,
} from "../../src/wire/index.ts";
import { seededRng as mulberry32 } from "../../src/rng/index.ts";


const CASES = 100_000;
const SEED = process.env.LAVA_FUZZ_SEED === undefined ? 0x1a7a_2024 : Number(process.env.LAVA_FUZZ_SEED) >>> 0;
const CODEC_REASONS: readonly DropReason[] = DROP_REASONS.slice(0, 8);
const SPECIAL_F64 = [NaN, Infinity, -Infinity, -1, -0, 0, 1e308, 2 ** 22 + 1, 2 ** 53 + 2, 100.6, 65537, Number.MIN_VALUE];

interface Valid {
  buf: Uint8Array;
  key: Uint8Array | null;
}

test(
  `fuzz: ${CASES} random and mutated datagrams never throw (seed ${SEED})`,
  () => {
    const rand = mulberry32(SEED);
    const int = (n: number): number => Math.floor(rand() * n);
    const randomBytes = (n: number): Uint8Array => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    };

    // A pool of valid datagrams of every kind to mutate.
    const report = (): LoadReport => {
      const cpuUser = rand() * 100;
      const cpuSys = rand() * (100 - cpuUser);
      return {
        load1: rand() * 10, load5: rand() * 10, load15: rand() * 10, memUsed: int(2 ** 36), memFree: int(2 ** 36),
        swapUsed: int(2 ** 30), swapFree: int(2 ** 30), ncpus: 1 + int(128), cpuUser, cpuSys, cpuIdle: 100 - cpuUser - cpuSys,
        jobsRunning: int(50), jobsPending: int(50), procsTotal: int(5000), flags: int(16),
      };
    };
    const pool: Valid[] = [];
    for (let i = 0; i < 64; i++) {
      const key = randomBytes(32);
      const auth = { hostId: int(2 ** 32), seq: int(2 ** 32), key };
      pool.push({ buf: encodeReport(report()), key: null });
      pool.push({ buf: encodeReport(report(), auth), key });
      const windowBase = int(2 ** 20);
      const span = int(800);
      const ids: number[] = [];
      for (let b = 0; b < span; b++) if (rand() < 0.3) ids.push(windowBase + b);
      const a = { nodeId: int(9), term: int(2 ** 53), reportIntervalMs: 100 + int(10_000), leaderAddr: `10.0.${int(256)}.${int(256)}:${1 + int(65535)}`, windowBase, activeHostIds: ids };
      pool.push({ buf: encodeAnnounce(a), key: null });
      pool.push({ buf: encodeAnnounce(a, auth), key });
    }
    for (let i = 0; i < 16; i++) {
      const records = Array.from({ length: int(8) }, () => ({
        hostId: 1 + int(2 ** 20), session: int(2 ** 32), seq: int(2 ** 32), ageMs: int(100_000), channel: rand() < 0.5,
        lost: int(100), received: int(1e6), report: rand() < 0.8 ? report() : null,
      }));
      pool.push({ buf: encodeSync({ nodeId: 1 + int(5), term: int(2 ** 53), batch: 1 + int(2 ** 31), full: rand() < 0.5, last: rand() < 0.5 }, records), key: null });
    }
    pool.push({ buf: encodeHeader(13, 0, 0), key: null });

    const seen = new Map<string, number>();
    const mutate = (src: Uint8Array): Uint8Array => {
      let b = src.slice();
      const rounds = 1 + int(3);
      for (let r = 0; r < rounds; r++) {
        const dv = (): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
        switch (int(8)) {
          case 0: // bit flips
            for (let k = 1 + int(8); k > 0 && b.length > 0; k--) {
              const bit = int(b.length * 8);
              b[bit >> 3]! ^= 0x80 >> (bit & 7);
            }
            break;
          case 1: // truncation
            b = b.slice(0, int(b.length + 1));
            break;
          case 2: { // extension
            const ext = randomBytes(1 + int(rand() < 0.9 ? 16 : 1000));
            const nb = new Uint8Array(b.length + ext.length);
            nb.set(b);
            nb.set(ext, b.length);
            b = nb;
            break;
          }
          case 3: // len field edit: random, nudged, or made consistent again
            if (b.length >= 8) {
              const choice = int(3);
              const len = dv().getUint32(4, false);
              dv().setUint32(4, choice === 0 ? int(2 ** 32) : choice === 1 ? (len + int(17) - 8) >>> 0 : Math.max(0, b.length - 12), false);
            }
            break;
          case 4: // op edit
            if (b.length >= 4) dv().setUint32(0, rand() < 0.8 ? int(20) : int(2 ** 32), false);
            break;
          case 5: // extra edit
            if (b.length >= 12) dv().setUint32(8, [0, 1, 2, 3, 0x80000000, int(2 ** 32)][int(6)]!, false);
            break;
          case 6: { // a special f64 at an 8-aligned-from-payload offset
            const starts = [12, 44];
            const p = starts[int(2)]! + 8 * int(11);
            if (p + 8 <= b.length) dv().setFloat64(p, SPECIAL_F64[int(SPECIAL_F64.length)]!, false);
            break;
          }
          case 7: { // overwrite a random range
            if (b.length === 0) break;
            const at = int(b.length);
            b.set(randomBytes(Math.min(1 + int(8), b.length - at)), at);
            break;
          }
        }
      }
      return b;
    };

    let i = 0;
    let input: Uint8Array = new Uint8Array(0);
    try {
      for (i = 0; i < CASES; i++) {
        let expectedKey: Uint8Array | null = null;
        let original: Uint8Array | null = null;
        const kind = rand();
        if (kind < 0.2) {
          input = randomBytes(int(1101));
        } else if (kind < 0.35) {
          // Random body behind a plausible header, to get past the header checks.
          const body = randomBytes(rand() < 0.5 ? [0, 32, 104, 136][int(4)]! : int(1030));
          const op = rand() < 0.9 ? 10 + int(4) : int(2 ** 32);
          const extra = rand() < 0.9 ? int(2) : int(2 ** 32);
          input = new Uint8Array(12 + body.length);
          input.set(encodeHeader(op, body.length, extra));
          input.set(body, 12);
        } else {
          const v = pool[int(pool.length)]!;
          original = v.buf;
          expectedKey = v.key;
          input = rand() < 0.05 ? v.buf.slice() : mutate(v.buf);
        }
        // Sometimes decode from a view into a larger buffer.
        if (rand() < 0.3) {
          const off = 1 + int(64);
          const big = randomBytes(off + input.length + int(64));
          big.set(input, off);
          input = big.subarray(off, off + input.length);
        }

        const d = decodeDatagram(input);
        if (d.ok) {
          seen.set(`ok:${d.op}`, (seen.get(`ok:${d.op}`) ?? 0) + 1);
          if (input.length > 1024) throw new Error("accepted more than 1024 bytes");
          if (new DataView(input.buffer, input.byteOffset).getUint32(4, false) !== input.length - 12) throw new Error("accepted a bad len");
          if (d.op === 11 && input.length !== 116 && input.length !== 148) throw new Error("accepted a report of odd size");
          if (d.auth) {
            const same = original !== null && original.length === input.length && original.every((x, k) => x === input[k]);
            const key = expectedKey ?? new Uint8Array(32);
            const ok = verifyTag(input, key);
            if (typeof ok !== "boolean") throw new Error("verifyTag returned a non-boolean");
            // With the signing key, the tag verifies exactly when the bytes are the ones signed.
            if (ok !== (same && expectedKey !== null)) throw new Error(`verifyTag returned ${ok}, bytes ${same ? "unchanged" : "changed"}`);
          }
        } else {
          if (!CODEC_REASONS.includes(d.reason)) throw new Error(`reason ${String(d.reason)} is not a codec drop reason`);
          seen.set(d.reason, (seen.get(d.reason) ?? 0) + 1);
        }
      }
    } catch (e) {
      const msg = `fuzz failed: LAVA_FUZZ_SEED=${SEED} case ${i}: ${(e as Error).message}\ninput (${input.length} bytes): ${Buffer.from(input).toString("hex")}`;
      console.error(msg);
      throw new Error(msg, { cause: e });
    }

    // The generator must actually reach every outcome, or the test proves little.
    const outcomes = [...CODEC_REASONS, "ok:10", "ok:11", "ok:12", "ok:13"];
    const missing = outcomes.filter((o) => !seen.has(o));
    expect({ seed: SEED, missing }).toEqual({ seed: SEED, missing: [] });
  },
  60_000,
);
