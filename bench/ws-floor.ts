#!/usr/bin/env bun
/**
 * What one WebSocket costs a Bun server, for the fleet benchmark's memory
 * target (master RSS ≤ 1 KiB per host, each host holding one control
 * channel): RSS growth of a bare Bun.serve per open WebSocket, for the
 * server options that could matter, with no `data` and with a `data`
 * object shaped like the master's (src/master/control/sessions.ts WsData).
 *
 *   bun bench/ws-floor.ts [--conns 10000] [--smoke] [--out FILE]
 *
 * Each variant is a fresh server process (bench/lib/ws-floor-server.ts);
 * a client process opens the connections (the WebSocket API, one small
 * message each, as an agent's register), and the server's RSS is read after
 * a full GC before and after. JSON in bench/results/ws-floor.json.
 */
import { join } from "node:path";
import { parseFlags } from "./lib/args.ts";
import { LineChild } from "./lib/child.ts";
import { writeResult } from "./lib/results.ts";
import { fmtInt } from "./lib/stats.ts";

const flags = parseFlags("bun bench/ws-floor.ts", process.argv.slice(2), {
  conns: { kind: "number", default: 10_000, min: 1, integer: true, help: "WebSockets held open per variant" },
  smoke: { kind: "boolean", default: false, help: "200 connections per variant: a quick check that it all runs (CI); the per-connection figures are then rough" },
  out: { kind: "string", default: null, help: "JSON result file (default bench/results/ws-floor.json)" },
});

/** Server options per variant; "master" is what src/master/server.ts passes. */
const VARIANTS: { name: string; options: Record<string, unknown>; data: "none" | "master" }[] = [
  { name: "Bun defaults, no data", options: {}, data: "none" },
  { name: "Bun defaults, master-like data", options: {}, data: "master" },
  { name: "master's options (maxPayloadLength 1 MiB, idleTimeout 0)", options: { maxPayloadLength: 1 << 20, idleTimeout: 0 }, data: "master" },
  {
    name: "… + perMessageDeflate false, backpressureLimit 64 KiB, sendPings false",
    options: { maxPayloadLength: 1 << 20, idleTimeout: 0, perMessageDeflate: false, backpressureLimit: 64 * 1024, sendPings: false },
    data: "master",
  },
];

interface Mem {
  rssBytes: number;
  heapBytes: number;
}

const HERE = join(import.meta.dir, "lib");
const CONNS = flags.smoke ? Math.min(flags.conns, 200) : flags.conns;
const rows: { variant: string; options: Record<string, unknown>; data: string; rssBytesPerConn: number; heapBytesPerConn: number }[] = [];
console.log(`Bun.serve RSS per open WebSocket, ${fmtInt(CONNS)} connections per variant; Bun ${Bun.version}`);
for (const v of VARIANTS) {
  const server = LineChild.spawn([process.execPath, join(HERE, "ws-floor-server.ts"), JSON.stringify(v.options), v.data]);
  let client: LineChild | null = null;
  try {
    const { port } = await server.next<{ port: number }>();
    const before = await server.request<Mem>("mem");
    client = LineChild.spawn([process.execPath, join(HERE, "ws-floor-client.ts"), String(port), String(CONNS)]);
    await client.next(120_000);
    const after = await server.request<Mem>("mem");
    const row = {
      variant: v.name,
      options: v.options,
      data: v.data,
      rssBytesPerConn: Math.round((after.rssBytes - before.rssBytes) / CONNS),
      heapBytesPerConn: Math.round((after.heapBytes - before.heapBytes) / CONNS),
    };
    rows.push(row);
    console.log(`  ${v.name.padEnd(72)} ${String(row.rssBytesPerConn).padStart(6)} B RSS, ${String(row.heapBytesPerConn).padStart(5)} B JS heap per connection`);
  } finally {
    await client?.stop();
    await server.stop();
  }
}
console.log(`wrote ${writeResult(flags.smoke ? "ws-floor-smoke" : "ws-floor", { smoke: flags.smoke, conns: CONNS, variants: rows }, flags.out)}`);
process.exit(0);
