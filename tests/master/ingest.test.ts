/**
 * Ingest.handle against a reference built on wire.decodeDatagram (what the
 * master did before its allocation-free path): seeded valid, replayed,
 * mis-signed and mutated datagrams from registered and unknown hosts, on a
 * secure and an --insecure master. Same result, same counters, same host
 * state after every datagram.
 *
 *   LAVA_FUZZ_SEED=<n> bun test tests/master/ingest.test.ts
 */
import { describe, expect, test } from "bun:test";
import { HostTable, type HostEntry } from "../../src/master/hosts/table.ts";
import { Ingest, emptyDropCounts, type VerifyFn } from "../../src/master/ingest.ts";
import { tagVerifier } from "../../src/master/mac.ts";
import { seededRng } from "../../src/rng/index.ts";
import {
  OP,
  decodeDatagram,
  encodeAnnounce,
  encodeHeader,
  encodeReport,
  verifyTag,
  type DropReason,
  type LoadReport,
} from "../../src/wire/index.ts";

const SEED = process.env.LAVA_FUZZ_SEED === undefined ? 0x16e5_7001 : Number(process.env.LAVA_FUZZ_SEED) >>> 0;
const HOSTS = 8;

/** The master's ingest as it was written on decodeDatagram: the oracle. */
class ReferenceIngest {
  readonly counters = { accepted: 0, dropped: emptyDropCounts() };
  constructor(
    private readonly hosts: HostTable,
    private readonly insecure: boolean,
  ) {}

  handle(buf: Uint8Array, srcIp: string, srcPort: number, nowMs: number): HostEntry | DropReason {
    const d = decodeDatagram(buf);
    if (!d.ok) return this.drop(d.reason);
    if (d.op !== OP.SLAVE_REPORT) return this.drop("unexpected_op");
    let host: HostEntry | undefined;
    if (d.auth) {
      host = this.hosts.byHostId(d.auth.hostId);
      const session = host?.session;
      if (!host || !session) return this.drop("unknown_host");
      if (!verifyTag(buf, session.key)) return this.drop("bad_tag");
      if (d.auth.seq <= session.lastSeq) return this.drop("replay");
      if (session.received === 0) session.firstSeq = d.auth.seq;
      session.lastSeq = d.auth.seq;
      session.received++;
    } else {
      if (!this.insecure) return this.drop("unauthenticated");
      host = this.hosts.bySource(srcIp, srcPort);
      if (!host) return this.drop("unknown_host");
    }
    host.report = d.report;
    host.lastReportMs = nowMs;
    host.receivedTotal++;
    this.counters.accepted++;
    return host;
  }

  private drop(reason: DropReason): DropReason {
    this.counters.dropped[reason]++;
    return reason;
  }
}

/** Hosts 1..HOSTS registered (host 1 has no session: its reports are unknown_host), keys from the rng. */
function table(keys: Uint8Array[]): HostTable {
  const t = new HostTable();
  for (let i = 0; i < HOSTS; i++) {
    const hostname = `h${i + 1}`;
    t.upsert({ hostId: i + 1, hostname, hardware: { ncpus: 4, memBytes: 2 ** 33, gpus: 0 }, version: "t", registeredAtMs: 0, drained: false });
    if (i > 0) t.attachSession(hostname, { reportIp: "10.0.0.1", reportPort: 5000 + i, nonce: String(i), key: keys[i]! });
  }
  return t;
}

/** What a test can compare of a host: live fields, the report by value. */
function hostState(t: HostTable) {
  return [...t.values()].map((h) => ({
    hostId: h.hostId,
    report: h.report ? { ...h.report } : null,
    lastReportMs: h.lastReportMs,
    receivedTotal: h.receivedTotal,
    session: h.session ? { lastSeq: h.session.lastSeq, firstSeq: h.session.firstSeq, received: h.session.received } : null,
  }));
}

function run(insecure: boolean, verify: VerifyFn | undefined, cases: number) {
  const rand = seededRng(SEED ^ (insecure ? 1 : 0));
  const int = (n: number) => Math.floor(rand() * n);
  const keys = Array.from({ length: HOSTS }, () => Uint8Array.from({ length: 32 }, () => int(256)));
  const fast = table(keys);
  const ref = table(keys);
  const ingest = new Ingest(fast, { insecure, verify });
  const oracle = new ReferenceIngest(ref, insecure);
  const seqs = new Array<number>(HOSTS + 2).fill(0);
  const report = (): LoadReport => {
    const cpuUser = rand() * 60;
    return {
      load1: rand() * 8, load5: rand() * 8, load15: rand() < 0.02 ? -0 : rand() * 8, memUsed: int(2 ** 34), memFree: int(2 ** 34),
      swapUsed: int(2 ** 20), swapFree: int(2 ** 30), ncpus: 1 + int(64), cpuUser, cpuSys: rand() * 30, cpuIdle: rand() * 10,
      jobsRunning: int(10), jobsPending: int(10), procsTotal: int(4000), flags: int(16),
    };
  };
  const datagram = (): { buf: Uint8Array; port: number } => {
    const hostId = 1 + int(HOSTS + 1); // HOSTS + 1 is not registered
    const port = 5000 + hostId - 1 + (rand() < 0.1 ? 100 : 0);
    const k = rand();
    if (k < 0.05) return { buf: encodeHeader([OP.MASTER_SYNC, OP.ACK][int(2)]!, 0, 0), port };
    if (k < 0.1) return { buf: encodeAnnounce({ nodeId: 1, term: 2, reportIntervalMs: 1000, leaderAddr: "10.0.0.9:6880", windowBase: 0, activeHostIds: [1, 3] }), port };
    if (k < 0.25) return { buf: encodeReport(report()), port };
    // Seqs mostly rise; sometimes one repeats or goes back (replay).
    const seq = rand() < 0.85 ? ++seqs[hostId]! : Math.max(0, seqs[hostId]! - int(3));
    const key = rand() < 0.95 ? (keys[hostId - 1] ?? keys[0]!) : keys[(hostId % HOSTS)]!;
    return { buf: encodeReport(report(), { hostId, seq, key }), port };
  };
  const mutate = (b: Uint8Array): Uint8Array => {
    const out = rand() < 0.1 ? b.slice(0, int(b.length + 1)) : b.slice();
    const dv = new DataView(out.buffer);
    switch (int(4)) {
      case 0:
        if (out.length > 0) out[int(out.length)]! ^= 1 << int(8);
        break;
      case 1:
        if (out.length >= 52) dv.setFloat64(44 + 8 * int(1), [NaN, Infinity, -1, 1e300, 0][int(5)]!, false);
        else if (out.length >= 20) dv.setFloat64(12, NaN, false);
        break;
      case 2:
        if (out.length >= 12) dv.setUint32(8, int(4), false);
        break;
      case 3:
        if (out.length >= 8) dv.setUint32(4, int(300), false);
        break;
    }
    return out;
  };

  const results = new Map<string, number>();
  for (let i = 0; i < cases; i++) {
    let { buf, port } = datagram();
    if (rand() < 0.2) buf = mutate(buf);
    // Bun hands out Buffers that are views into larger memory.
    if (rand() < 0.3) {
      const big = new Uint8Array(buf.length + 40);
      big.set(buf, 17);
      buf = big.subarray(17, 17 + buf.length);
    }
    const got = ingest.handle(buf, "10.0.0.1", port, 1000 + i);
    const want = oracle.handle(buf, "10.0.0.1", port, 1000 + i);
    const name = (r: HostEntry | DropReason) => (typeof r === "string" ? r : `host ${r.hostId}`);
    if (name(got) !== name(want)) throw new Error(`case ${i} (seed ${SEED}): ${name(got)}, reference ${name(want)}; input ${Buffer.from(buf).toString("hex")}`);
    results.set(typeof got === "string" ? got : "accepted", (results.get(typeof got === "string" ? got : "accepted") ?? 0) + 1);
  }
  return { ingest, oracle, fast, ref, results };
}

describe("Ingest.handle", () => {
  for (const insecure of [false, true]) {
    for (const [name, verify] of [["wire.verifyTag", undefined], ["mac.ts verifier", tagVerifier()]] as const) {
      test(`${insecure ? "--insecure" : "secure"} master, ${name}: same results, counters and host state as decodeDatagram (seed ${SEED})`, () => {
        const { ingest, oracle, fast, ref, results } = run(insecure, verify, 20_000);
        expect(ingest.counters).toEqual(oracle.counters);
        expect(hostState(fast)).toEqual(hostState(ref));
        // The generator reaches every outcome the master can give, or the comparison proves little.
        const outcomes = ["accepted", "unknown_host", "bad_tag", "replay", "unexpected_op", "bad_len", "non_finite", "negative", "bad_flags", "short", ...(insecure ? [] : ["unauthenticated"])];
        expect(outcomes.filter((o) => !results.has(o))).toEqual([]);
      });
    }
  }

  test("a report dropped after its payload checks (bad tag, replay) leaves the host's last report as it was", () => {
    const key = new Uint8Array(32).fill(7);
    const t = new HostTable();
    t.upsert({ hostId: 5, hostname: "n5", hardware: { ncpus: 4, memBytes: 2 ** 33, gpus: 0 }, version: "t", registeredAtMs: 0, drained: false });
    t.attachSession("n5", { reportIp: "10.0.0.1", reportPort: 7000, nonce: "x", key });
    const ingest = new Ingest(t, { insecure: false, verify: tagVerifier() });
    const r: LoadReport = { load1: 1, load5: 2, load15: 3, memUsed: 4, memFree: 5, swapUsed: 6, swapFree: 7, ncpus: 8, cpuUser: 9, cpuSys: 10, cpuIdle: 11, jobsRunning: 1, jobsPending: 2, procsTotal: 3, flags: 0 };
    expect(ingest.handle(encodeReport(r, { hostId: 5, seq: 2, key }), "10.0.0.1", 7000, 10)).toBe(t.byHostId(5)!);
    const other = { ...r, load1: 99 };
    expect(ingest.handle(encodeReport(other, { hostId: 5, seq: 3, key: new Uint8Array(32) }), "10.0.0.1", 7000, 11)).toBe("bad_tag");
    expect(ingest.handle(encodeReport(other, { hostId: 5, seq: 2, key }), "10.0.0.1", 7000, 12)).toBe("replay");
    expect(t.byHostId(5)!.report).toEqual(r);
    expect(t.byHostId(5)!.lastReportMs).toBe(10);
    expect(ingest.handle(encodeReport(other, { hostId: 5, seq: 3, key }), "10.0.0.1", 7000, 13)).toBe(t.byHostId(5)!);
    expect(t.byHostId(5)!.report).toEqual(other);
  });

  test("a datagram over 1024 bytes is dropped as long", () => {
    const ingest = new Ingest(new HostTable(), { insecure: false });
    expect(ingest.handle(new Uint8Array(1025), "10.0.0.1", 1, 0)).toBe("long");
    expect(ingest.counters.dropped.long).toBe(1);
  });

  test("unauthenticated reports find their host by source address only in a table that indexes sources (an --insecure master's)", () => {
    const r: LoadReport = { load1: 1, load5: 1, load15: 1, memUsed: 1, memFree: 1, swapUsed: 0, swapFree: 0, ncpus: 2, cpuUser: 1, cpuSys: 1, cpuIdle: 90, jobsRunning: 0, jobsPending: 0, procsTotal: 9, flags: 0 };
    for (const indexSources of [true, false]) {
      const t = new HostTable({ indexSources });
      t.upsert({ hostId: 3, hostname: "n3", hardware: { ncpus: 2, memBytes: 2 ** 30, gpus: 0 }, version: "t", registeredAtMs: 0, drained: false });
      t.attachSession("n3", { reportIp: "10.0.0.3", reportPort: 6000, nonce: "n", key: new Uint8Array(32) });
      const got = new Ingest(t, { insecure: true }).handle(encodeReport(r), "10.0.0.3", 6000, 1);
      expect(got).toBe(indexSources ? t.byHostId(3)! : "unknown_host");
    }
  });
});
