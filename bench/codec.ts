#!/usr/bin/env bun
/**
 * LIM codec benchmark.
 *
 *   bun bench/codec.ts [--seconds N] [--smoke] [--out FILE]   (default 3 s per measurement; --smoke 0.05 s, what CI runs)
 *
 * (a) baseline: a bare DataView read of a 116-byte SLAVE_REPORT (11 f64 +
 *     4 u32, one DataView per iteration): the floor any decoder pays.
 * (b) codec: encodeReport with AUTH, then decodeDatagram and verifyTag of the
 *     148-byte datagram: the full per-report cost, agent side plus master side.
 * Extra rows isolate decode (with and without AUTH), encode with AUTH and
 * verifyTag. Prints ops/s and ratio = (b)/(a); writes bench/results/codec.json.
 * Each loop folds results into a checksum so the JIT cannot drop the work.
 */
import { cpus } from "node:os";
import { decodeDatagram, encodeReport, verifyTag, type LoadReport } from "../src/wire/index.ts";
import { parseFlags } from "./lib/args.ts";
import { writeResult } from "./lib/results.ts";

const flags = parseFlags("bun bench/codec.ts", process.argv.slice(2), {
  seconds: { kind: "number", default: 3, min: 0.01, help: "seconds per measurement" },
  smoke: { kind: "boolean", default: false, help: "0.05 s per measurement: a quick check that it all runs (CI)" },
  out: { kind: "string", default: null, help: "JSON result file (default bench/results/codec.json)" },
});
const seconds = flags.smoke ? Math.min(flags.seconds, 0.05) : flags.seconds;
const RING = 64; // distinct inputs, so nothing is constant across iterations
const BATCH = 1024; // iterations between clock reads

const reports: LoadReport[] = Array.from({ length: RING }, (_, i) => ({
  load1: 0.5 + i / 64, load5: 0.4 + i / 100, load15: 0.3, memUsed: 8 * 2 ** 30 + i * 4096, memFree: 24 * 2 ** 30 - i * 4096,
  swapUsed: 0, swapFree: 2 * 2 ** 30, ncpus: 8, cpuUser: 12.5 + i / 10, cpuSys: 2.5, cpuIdle: 85 - i / 10,
  jobsRunning: i % 4, jobsPending: i % 3, procsTotal: 300 + i, flags: 0,
}));
const key = Uint8Array.from({ length: 32 }, (_, i) => i);
const plain = reports.map((r) => encodeReport(r));
const authed = reports.map((r, i) => encodeReport(r, { hostId: 7, seq: i, key }));

let checksum = 0;

/** Runs `body(i)` in batches for `secs` seconds (after a short warm-up); returns ops/s. */
function measure(name: string, body: (i: number) => number, secs: number): number {
  const run = (ns: number): { ops: number; ns: number } => {
    const t0 = Bun.nanoseconds();
    let ops = 0;
    let acc = 0;
    let now = t0;
    while (now - t0 < ns) {
      for (let k = 0; k < BATCH; k++) acc += body(ops + k);
      ops += BATCH;
      now = Bun.nanoseconds();
    }
    checksum += acc;
    return { ops, ns: now - t0 };
  };
  run(Math.min(0.5, secs / 5) * 1e9); // warm-up: let the JIT settle
  const { ops, ns } = run(secs * 1e9);
  const opsPerSec = ops / (ns / 1e9);
  console.log(`${name.padEnd(44)} ${fmt(opsPerSec).padStart(14)} ops/s  ${(1e9 / opsPerSec).toFixed(1).padStart(8)} ns/op`);
  return opsPerSec;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function baseline(i: number): number {
  const buf = plain[i & (RING - 1)]!;
  const dv = new DataView(buf.buffer, buf.byteOffset, 116);
  let s = 0;
  for (let p = 12; p < 100; p += 8) s += dv.getFloat64(p, false);
  s += dv.getUint32(100, false) + dv.getUint32(104, false) + dv.getUint32(108, false) + dv.getUint32(112, false);
  return s;
}

let seq = 0;
function codec(i: number): number {
  const buf = encodeReport(reports[i & (RING - 1)]!, { hostId: 7, seq: seq++ >>> 0, key });
  const d = decodeDatagram(buf);
  if (!d.ok || d.op !== 11 || !d.auth) throw new Error("bench: decode failed");
  return d.report.load1 + d.auth.seq + (verifyTag(buf, key) ? 1 : 0);
}

function decodePlain(i: number): number {
  const d = decodeDatagram(plain[i & (RING - 1)]!);
  return d.ok && d.op === 11 ? d.report.load1 : -1;
}

function decodeAuthed(i: number): number {
  const d = decodeDatagram(authed[i & (RING - 1)]!);
  return d.ok && d.op === 11 && d.auth ? d.report.load1 + d.auth.seq : -1;
}

function encodeAuthed(i: number): number {
  return encodeReport(reports[i & (RING - 1)]!, { hostId: 7, seq: i >>> 0, key })[20]!;
}

function verify(i: number): number {
  return verifyTag(authed[i & (RING - 1)]!, key) ? 1 : 0;
}

console.log(`lava codec bench: Bun ${Bun.version}, ${cpus()[0]?.model ?? "unknown cpu"}, ${seconds} s per measurement\n`);
const baselineOpsPerSec = measure("(a) baseline: DataView read of 116 B report", baseline, seconds);
const opsPerSec = measure("(b) encode+decode+verifyTag, AUTH (148 B)", codec, seconds);
const decodeOpsPerSec = measure("    decodeDatagram, no AUTH (116 B)", decodePlain, seconds);
const decodeAuthOpsPerSec = measure("    decodeDatagram, AUTH (148 B)", decodeAuthed, seconds);
const encodeAuthOpsPerSec = measure("    encodeReport, AUTH", encodeAuthed, seconds);
const verifyOpsPerSec = measure("    verifyTag", verify, seconds);
const ratio = opsPerSec / baselineOpsPerSec;
console.log(`\nratio (b)/(a) = ${ratio.toFixed(4)}   (decode no-AUTH / baseline = ${(decodeOpsPerSec / baselineOpsPerSec).toFixed(3)})`);
console.log(`checksum ${checksum}`);

const path = writeResult(
  flags.smoke ? "codec-smoke" : "codec",
  {
    smoke: flags.smoke,
    bunVersion: Bun.version,
    cpu: cpus()[0]?.model ?? null,
    secondsPerMeasurement: seconds,
    baselineOpsPerSec: Math.round(baselineOpsPerSec),
    opsPerSec: Math.round(opsPerSec),
    ratio: Number(ratio.toFixed(6)),
    decodeOpsPerSec: Math.round(decodeOpsPerSec),
    decodeAuthOpsPerSec: Math.round(decodeAuthOpsPerSec),
    encodeAuthOpsPerSec: Math.round(encodeAuthOpsPerSec),
    verifyTagOpsPerSec: Math.round(verifyOpsPerSec),
    checksum,
  },
  flags.out,
);
console.log(`wrote ${path}`);
