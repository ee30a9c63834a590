#!/usr/bin/env bun
/**
 * The server of bench/ws-floor.ts: a bare Bun.serve that upgrades every
 * request to a WebSocket with the options in argv[2] (JSON) and, with
 * argv[3] = "master", a `data` object shaped like the master's WsData.
 * Prints {"port":N}; on a stdin line "mem", runs a full GC and prints
 * {"rssBytes","heapBytes"}; exits at end of stdin.
 */
import { heapStats } from "bun:jsc";
import { rssBytes } from "./proc.ts";

const options = JSON.parse(process.argv[2] ?? "{}") as Record<string, unknown>;
const withData = process.argv[3] === "master";
let n = 0;
const server = Bun.serve<object | undefined>({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, srv) {
    // As src/master/server.ts: the caller's token claims, its address, a few numbers.
    const data = withData ? { claims: { sub: "agent", role: "agent", jti: `t${n % 7}-0123456789abcdefghij`, iat: 1 }, ip: "127.0.0.1", hostId: ++n, missed: 0, connectedAtMs: Date.now(), registeredAtMs: 0 } : undefined;
    return srv.upgrade(req, { data }) ? undefined : new Response("upgrade required", { status: 426 });
  },
  websocket: { ...options, message() {} },
});
console.log(JSON.stringify({ port: server.port }));
for await (const line of console) {
  if (line.trim() !== "mem") continue;
  Bun.gc(true);
  await Bun.sleep(200);
  Bun.gc(true);
  console.log(JSON.stringify({ rssBytes: rssBytes(process.pid), heapBytes: heapStats().heapSize }));
}
server.stop(true);
process.exit(0);
