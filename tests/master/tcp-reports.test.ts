/**
 * The master's TCP report listener (src/master/tcp-reports.ts) as an
 * attacker sees it: real sockets on loopback against the real Ingest. It is
 * unauthenticated input, so every bound is tried: connections per source
 * and in all, a connection that sends nothing, a slow partial frame, a bad
 * length prefix, forged and replayed reports.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { HostTable } from "../../src/master/hosts/table.ts";
import { Ingest } from "../../src/master/ingest.ts";
import { listenTcpReports, TcpGate, tcpIdleMs, TCP_IDLE_MS_MIN } from "../../src/master/tcp-reports.ts";
import { encodeFrame, encodeReport, type LoadReport } from "../../src/wire/index.ts";
import { waitFor } from "../helpers/wait.ts";

const R: LoadReport = { load1: 1, load5: 1, load15: 1, memUsed: 1e9, memFree: 1e9, swapUsed: 0, swapFree: 0, ncpus: 4, cpuUser: 10, cpuSys: 5, cpuIdle: 85, jobsRunning: 0, jobsPending: 0, procsTotal: 10, flags: 0 };
const KEY = new Uint8Array(32).fill(7);

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function setup(limits = { total: 100, perSource: 100 }, idleMs = 60_000) {
  const hosts = new HostTable();
  hosts.upsert({ hostId: 1, hostname: "h1", hardware: { ncpus: 4, memBytes: 1e9, gpus: 0 }, version: "t", registeredAtMs: 0, drained: false });
  hosts.attachSession("h1", { reportIp: "127.0.0.1", reportPort: 9, nonce: "n", key: KEY });
  const ingest = new Ingest(hosts, { insecure: false });
  const gate = new TcpGate(limits);
  let viaTcp = 0;
  const listener: TCPSocketListener<unknown> = listenTcpReports({ hostname: "127.0.0.1", port: 0, idleMs, nowMs: () => Date.now(), onReport: () => viaTcp++ }, ingest, gate) as TCPSocketListener<unknown>;
  cleanup.push(() => listener.stop(true));
  return { hosts, ingest, gate, port: listener.port, viaTcp: () => viaTcp };
}

async function connect(port: number): Promise<{ s: Socket<undefined>; closed: () => boolean }> {
  let closed = false;
  const s = await Bun.connect<undefined>({ hostname: "127.0.0.1", port, socket: { data() {}, close() { closed = true; }, error() {} } });
  cleanup.push(() => s.terminate());
  return { s, closed: () => closed };
}

describe("TCP report listener", () => {
  test("valid reports are ingested and counted as TCP; forged and replayed ones are dropped like over UDP", async () => {
    const t = setup();
    const c = await connect(t.port);
    c.s.write(encodeFrame(encodeReport(R, { hostId: 1, seq: 1, key: KEY })));
    c.s.write(encodeFrame(encodeReport(R, { hostId: 1, seq: 1, key: KEY }))); // replay
    c.s.write(encodeFrame(encodeReport(R, { hostId: 1, seq: 2, key: new Uint8Array(32) }))); // wrong key
    c.s.write(encodeFrame(encodeReport(R, { hostId: 99, seq: 3, key: KEY }))); // nobody
    c.s.flush();
    await waitFor(() => t.ingest.counters.accepted + Object.values(t.ingest.counters.dropped).reduce((a, b) => a + b, 0) === 4, 3000, "four frames handled");
    expect(t.ingest.counters.accepted).toBe(1);
    expect(t.ingest.counters.dropped.replay).toBe(1);
    expect(t.ingest.counters.dropped.bad_tag).toBe(1);
    expect(t.ingest.counters.dropped.unknown_host).toBe(1);
    expect(t.viaTcp()).toBe(1);
    expect(t.gate.counters.reports).toBe(1);
    expect(c.closed()).toBe(false);
  });

  test("attack: one source cannot take more than its share of connections; the rest are refused and counted", async () => {
    const t = setup({ total: 100, perSource: 3 });
    const conns: Awaited<ReturnType<typeof connect>>[] = [];
    for (let i = 0; i < 6; i++) conns.push(await connect(t.port));
    await waitFor(() => t.gate.counters.refusedPerSource === 3, 3000, "three refused");
    await waitFor(() => conns.filter((c) => c.closed()).length === 3, 3000, "the refused ones closed");
    expect(t.gate.counters.open).toBe(3);
    // Closing one frees its slot.
    conns.find((c) => !c.closed())!.s.end();
    await waitFor(() => t.gate.counters.open === 2, 3000, "slot freed");
    await connect(t.port);
    await waitFor(() => t.gate.counters.open === 3, 3000, "slot reused");
    expect(t.gate.counters.refusedPerSource).toBe(3);
  });

  test("attack: the total bound holds", async () => {
    const t = setup({ total: 2, perSource: 100 });
    for (let i = 0; i < 4; i++) await connect(t.port);
    await waitFor(() => t.gate.counters.refusedTotal === 2, 3000, "two refused");
    expect(t.gate.counters.open).toBe(2);
  });

  test("attack: a bad length prefix ends that connection only, counted as a drop and a close", async () => {
    const t = setup();
    const good = await connect(t.port);
    const bad = await connect(t.port);
    bad.s.write(new Uint8Array([0, 0, 0x10, 0, 1, 2, 3])); // claims 4096 bytes
    bad.s.flush();
    await waitFor(() => bad.closed(), 3000, "bad connection closed");
    expect(t.ingest.counters.dropped.long).toBe(1);
    expect(t.gate.counters.closedBadFrame).toBe(1);
    good.s.write(encodeFrame(encodeReport(R, { hostId: 1, seq: 5, key: KEY })));
    good.s.flush();
    await waitFor(() => t.ingest.counters.accepted === 1, 3000, "the good connection still works");
  });

  test("attack: a partial frame dribbled byte by byte holds at most one frame, and completes", async () => {
    const t = setup();
    const c = await connect(t.port);
    const frame = encodeFrame(encodeReport(R, { hostId: 1, seq: 9, key: KEY }));
    for (let i = 0; i < frame.length; i += 16) {
      c.s.write(frame.subarray(i, i + 16));
      c.s.flush();
      await Bun.sleep(1);
    }
    await waitFor(() => t.ingest.counters.accepted === 1, 3000, "the dribbled report");
  });

  test("attack: a silent connection is closed after the idle timeout and counted", async () => {
    const t = setup({ total: 10, perSource: 10 }, 1000);
    const c = await connect(t.port);
    await waitFor(() => c.closed(), 5000, "idle connection closed");
    expect(t.gate.counters.closedIdle).toBe(1);
    expect(t.gate.counters.open).toBe(0);
  }, 10_000);

  test("idle timeout: 3.5 report intervals, at least a minute", () => {
    expect(tcpIdleMs(4000)).toBe(TCP_IDLE_MS_MIN);
    expect(tcpIdleMs(60_000)).toBe(210_000);
  });
});
