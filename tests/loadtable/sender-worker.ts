/**
 * The UDP sender of tests/loadtable/seqlock.test.ts, in its own thread so it
 * sends as fast as it can while the test's thread reads: binds one socket per
 * host (the hosts register these ports), then on "go" sends consistent
 * reports (consistent.ts) round-robin until the time is up.
 */
import type { udp } from "bun";
import { encodeReport } from "../../src/wire/index.ts";
import { consistentReport } from "./consistent.ts";

declare const self: Worker;
let sockets: udp.Socket<"buffer">[] = [];
self.onmessage = async (ev: MessageEvent<{ hosts: number } | { go: true; udpPort: number; ms: number }>) => {
  const m = ev.data;
  if ("hosts" in m) {
    sockets = await Promise.all(Array.from({ length: m.hosts }, () => Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data() {}, error() {} } })));
    postMessage({ ports: sockets.map((s) => s.port) });
    return;
  }
  const end = performance.now() + m.ms;
  let c = 1;
  let sent = 0;
  while (performance.now() < end) {
    for (let k = 0; k < 100; k++, c++) if (sockets[c % sockets.length]!.send(encodeReport(consistentReport(c)), m.udpPort, "127.0.0.1")) sent++;
    await Bun.sleep(0);
  }
  for (const s of sockets) s.close();
  postMessage({ sent });
};
