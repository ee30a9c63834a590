#!/usr/bin/env bun
/**
 * The sender of bench/ingest.ts, a process of its own so that it runs on the
 * other core. It blasts valid SLAVE_REPORT datagrams with AUTH for N hosts
 * with `socket.sendMany` batches on a socket connected to the target, as
 * fast as it can, for a fixed time.
 *
 * The datagrams form one sequence: datagram j is host j mod N with seq
 * ⌊j / N⌋ + 1, so hosts take turns and each host's seq rises by one per
 * report. A blast starts at an index the driver picks; two blasts from the
 * same index send identical bytes, which is how the bare receiver and the
 * master are offered the same datagrams. Later rounds start further on, so
 * the master never sees a seq twice.
 *
 * Two ways to produce them, measured against each other by the driver:
 * - "sign": each batch is signed just before it is sent (one keyed
 *   Bun.CryptoHasher per host, copied per datagram, as the master does);
 * - "precompute": `prepare` signs COUNT datagrams from START into one buffer
 *   beforehand; the blast only hands slices of it to sendMany, and stops
 *   early (`exhausted`) if they run out before the time is up.
 *
 * Usage: bun bench/lib/udp-sender.ts PLAN.json, PLAN = {hosts: [{hostId, key (base64)}], batch}
 * Protocol (one JSON line per command on stdout; commands on stdin):
 *   prepare COUNT START            → {prepared, start, ms}
 *   blast PORT MODE START SECONDS  → BlastResult (sends to 127.0.0.1:PORT)
 *   quit
 */
import { readFileSync } from "node:fs";
import { encodeReport, type LoadReport } from "../../src/wire/index.ts";

export interface SenderPlan {
  hosts: { hostId: number; key: string }[];
  batch: number;
}

export type SenderMode = "precompute" | "sign";

export interface BlastResult {
  mode: SenderMode;
  start: number;
  sent: number;
  elapsedMs: number;
  sentPerSec: number;
  /** sendMany calls that took fewer datagrams than offered (the rest is sent again). */
  shortSends: number;
  /** Precompute mode: the prepared datagrams ran out before the time was up. */
  exhausted: boolean;
}

const DATAGRAM = 148;
const SEQ_AT = 16;
const TAG_AT = 20;
const AUTH_END = 44;

function report(i: number): LoadReport {
  return {
    load1: 0.25 + (i % 16) / 8, load5: 0.5, load15: 0.75, memUsed: 8 * 2 ** 30 + i * 4096, memFree: 24 * 2 ** 30, swapUsed: 0, swapFree: 2 ** 31,
    ncpus: 8, cpuUser: 10 + (i % 50), cpuSys: 3, cpuIdle: 87 - (i % 50), jobsRunning: i % 4, jobsPending: 0, procsTotal: 300 + (i % 100), flags: 0,
  };
}

if (import.meta.main) {
  const plan = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as SenderPlan;
  const n = plan.hosts.length;
  const keys = plan.hosts.map((h) => new Uint8Array(Buffer.from(h.key, "base64")));
  const hashers = keys.map((k) => new Bun.CryptoHasher("sha256", k));
  /** Per host, a datagram whose header, host_id and payload stay; seq and tag are rewritten per report. */
  const templates = plan.hosts.map((h, i) => encodeReport(report(i), { hostId: h.hostId, seq: 1, key: keys[i]! }));
  const digest = new Uint8Array(64); // CryptoHasher.digest(into) wants room for any hash (64 bytes)

  /** Writes datagram j of the sequence into `out`. */
  const sign = (j: number, out: Uint8Array): void => {
    const i = j % n;
    out.set(templates[i]!);
    const seq = Math.floor(j / n) + 1;
    if (seq > 0xffffffff) throw new RangeError("sender: seq past 2^32-1");
    out[SEQ_AT] = seq >>> 24;
    out[SEQ_AT + 1] = (seq >>> 16) & 0xff;
    out[SEQ_AT + 2] = (seq >>> 8) & 0xff;
    out[SEQ_AT + 3] = seq & 0xff;
    const h = hashers[i]!.copy();
    h.update(out.subarray(0, TAG_AT));
    h.update(out.subarray(AUTH_END));
    h.digest(digest);
    out.set(digest.subarray(0, 24), TAG_AT);
  };

  let pre = new Uint8Array(0);
  let preCount = 0;
  let preStart = 0;

  const prepare = (count: number, start: number) => {
    const t0 = performance.now();
    if (pre.length < count * DATAGRAM) pre = new Uint8Array(count * DATAGRAM);
    for (let k = 0; k < count; k++) sign(start + k, pre.subarray(k * DATAGRAM, (k + 1) * DATAGRAM));
    preCount = count;
    preStart = start;
    return { prepared: count, start, ms: Math.round(performance.now() - t0) };
  };

  const blast = async (port: number, mode: SenderMode, start: number, seconds: number): Promise<BlastResult> => {
    if (mode === "precompute" && start !== preStart) throw new Error(`blast from ${start} but datagrams were prepared from ${preStart}`);
    const sock = await Bun.udpSocket({ connect: { hostname: "127.0.0.1", port } });
    const B = plan.batch;
    const ring = Array.from({ length: B }, () => new Uint8Array(DATAGRAM));
    let sent = 0;
    let shortSends = 0;
    let exhausted = false;
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let now = t0;
    while (now < end) {
      let batch: Uint8Array[];
      if (mode === "precompute") {
        if (sent >= preCount) {
          exhausted = true;
          break;
        }
        const m = Math.min(B, preCount - sent);
        batch = new Array(m);
        for (let k = 0; k < m; k++) batch[k] = pre.subarray((sent + k) * DATAGRAM, (sent + k + 1) * DATAGRAM);
      } else {
        for (let k = 0; k < B; k++) sign(start + sent + k, ring[k]!);
        batch = ring;
      }
      let off = 0;
      while (off < batch.length) {
        const took = sock.sendMany(off === 0 ? batch : batch.slice(off)) as number;
        if (took < batch.length - off) shortSends++;
        off += took;
      }
      sent += batch.length;
      now = performance.now();
    }
    const elapsedMs = performance.now() - t0;
    sock.close();
    return { mode, start, sent, elapsedMs, sentPerSec: sent / (elapsedMs / 1000), shortSends, exhausted };
  };

  console.log(JSON.stringify({ ready: { hosts: n } }));
  for await (const line of console) {
    const [cmd, ...args] = line.trim().split(/\s+/);
    try {
      if (cmd === "prepare") console.log(JSON.stringify(prepare(Number(args[0]), Number(args[1]))));
      else if (cmd === "blast") console.log(JSON.stringify(await blast(Number(args[0]), args[1] === "precompute" ? "precompute" : "sign", Number(args[2]), Number(args[3]))));
      else if (cmd === "quit") break;
      else console.log(JSON.stringify({ error: `unknown command ${cmd}` }));
    } catch (e) {
      console.log(JSON.stringify({ error: (e as Error).message }));
    }
  }
  process.exit(0);
}
