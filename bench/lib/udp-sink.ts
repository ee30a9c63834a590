#!/usr/bin/env bun
/**
 * The bare receiver of bench/ingest.ts: a Bun UDP socket bound like the
 * master's (127.0.0.1, port 0, Bun's defaults: binaryType "buffer", kernel
 * default SO_RCVBUF, which Bun cannot change), whose data callback only
 * counts. It is the ceiling any Bun UDP server can reach on this machine, so
 * the master's throughput is reported as a ratio to it.
 *
 * For the profile of bench/ingest.ts, argv[2] = "profile" times, on the
 * Buffers Bun's socket hands out, what the master does to each: taking turns
 * per datagram (so drift in the machine's speed hits every step alike), it
 * times nothing (the clock's own cost), reading `buf.buffer`, src/wire's
 * decodeDatagram and the master's tag check (src/master/mac.ts) on the
 * received Buffer, and what Ingest does instead: a copy in a long-lived
 * buffer (which never touches the received Buffer's `.buffer`), checked
 * through a DataView and a view made once.
 *
 * Protocol (one JSON line each way): prints {"port":N} once bound; on a
 * stdin line "count" prints {"count","bytes","socketDrops","profileNs"};
 * exits on "quit" or end of stdin.
 */
import { readUdpDrops } from "../../src/master/kernel.ts";
import { tagVerifier } from "../../src/master/mac.ts";
import { checkReportDatagram, decodeDatagram } from "../../src/wire/index.ts";

const work = process.argv[2] ?? "count";
if (work !== "count" && work !== "profile") {
  console.error(`udp-sink: unknown mode '${work}' (count, profile)`);
  process.exit(2);
}
let count = 0;
let bytes = 0;
const STEPS = [
  "clock only",
  "buf.buffer",
  "decodeDatagram(buf)",
  "copy, then checkReportDatagram (Ingest's)",
  "mac.ts verifier(buf)",
  "copy, then mac.ts verifier(fixed view)",
] as const;
const ns = STEPS.map(() => 0);
const runs = STEPS.map(() => 0);
let bad = 0;
// As Ingest does it: one buffer, its DataView and the view of a 148-byte report made once.
const scratch = new Uint8Array(2048);
const scratchView = new DataView(scratch.buffer);
const reportView = scratch.subarray(0, 148);
const verify = tagVerifier();
// The tags will not match (the sink has no session keys); the work is the same either way.
const key = new Uint8Array(32);

function profile(buf: Buffer): void {
  if (buf.length > scratch.length) return;
  const k = count % STEPS.length;
  const t0 = Bun.nanoseconds();
  switch (k) {
    case 1:
      if (buf.buffer.byteLength === 0) bad++;
      break;
    case 2:
      if (!decodeDatagram(buf).ok) bad++;
      break;
    case 3:
      scratch.set(buf);
      if (typeof checkReportDatagram(scratchView, buf.length) !== "number") bad++;
      break;
    case 4:
      if (verify(buf, key)) bad++;
      break;
    case 5:
      scratch.set(buf);
      if (verify(buf.length === reportView.length ? reportView : scratch.subarray(0, buf.length), key)) bad++;
      break;
  }
  ns[k]! += Bun.nanoseconds() - t0;
  runs[k]!++;
}

const socket = await Bun.udpSocket({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(_s, buf) {
      // Touch the datagram as a receiver must (the master reads its length first).
      bytes += buf.length;
      if (work === "profile") profile(buf);
      count++;
    },
  },
});
console.log(JSON.stringify({ port: socket.port }));

for await (const line of console) {
  const cmd = line.trim();
  if (cmd === "count") console.log(
      JSON.stringify({
        count,
        bytes,
        socketDrops: readUdpDrops(socket.port)?.socketDrops ?? null,
        profileNs: work === "profile" ? Object.fromEntries(STEPS.map((name, k) => [name, runs[k] ? Math.round(ns[k]! / runs[k]!) : null])) : null,
        invalid: bad,
      }),
    );
  else if (cmd === "quit") break;
}
socket.close();
process.exit(0);
