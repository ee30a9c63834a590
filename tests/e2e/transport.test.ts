/**
 * The TCP report transport (length-framed datagrams) and the control
 * channel's heartbeat, against the compiled master.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeFrame, encodeReport, type LoadReport } from "../../src/wire/index.ts";
import { TestMaster } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { signedRegister } from "../helpers/host-key.ts";
import { RawAgent } from "../master/raw-agent.ts";
import { teardown } from "../helpers/teardown.ts";

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

const R: LoadReport = { load1: 2.5, load5: 2, load15: 1.5, memUsed: 1e9, memFree: 3e9, swapUsed: 0, swapFree: 0, ncpus: 8, cpuUser: 20, cpuSys: 5, cpuIdle: 75, jobsRunning: 0, jobsPending: 0, procsTotal: 99, flags: 0 };

let master: TestMaster;
let tcpPort: number;
beforeAll(async () => {
  tcpPort = freePort();
  master = await TestMaster.start({ args: ["--tcp-report-port", String(tcpPort)], config: "master:\n  pingInterval: 0.2\n  announceInterval: 0.2\n" });
}, 20_000);
afterAll(() => teardown({ masters: [master] }));

async function register(hostname: string, answerPings: boolean) {
  const msg = await signedRegister({ hostname, hardware: { ncpus: 8, memBytes: 4e9 }, reportPort: 7, version: "t" }, await RawAgent.keyFor(hostname), master.adminToken);
  const ws = new WebSocket(`ws://${master.addr}/ws?token=${master.adminToken}`);
  const msgs: Record<string, unknown>[] = [];
  const closed = new Promise<number>((r) => ws.addEventListener("close", (e) => r(e.code)));
  const registered = new Promise<Record<string, unknown>>((resolve) => {
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data));
      msgs.push(m);
      if (m.type === "registered") resolve(m);
      if (m.type === "ping" && answerPings) ws.send(JSON.stringify({ type: "pong", ts: m.ts }));
    };
  });
  ws.onopen = () => ws.send(JSON.stringify(msg));
  const reg = await registered;
  return { ws, msgs, closed, hostId: reg.hostId as number, key: Buffer.from(reg.sessionKey as string, "base64") };
}

describe("TCP transport", () => {
  test("length-framed reports over TCP are ingested, split across writes, several per write", async () => {
    const h = await register("tcp-host", true);
    const frames = [1, 2, 3].map((seq) => encodeFrame(encodeReport(R, { hostId: h.hostId, seq, key: h.key })));
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let off = 0;
    for (const f of frames) {
      all.set(f, off);
      off += f.length;
    }
    const sock = await Bun.connect({ hostname: "127.0.0.1", port: tcpPort, socket: { data() {} } });
    sock.write(all.subarray(0, 7)); // a partial length prefix and header
    sock.flush();
    await Bun.sleep(20); // let the master see the partial write on its own
    sock.write(all.subarray(7));
    sock.flush();
    const load = await waitFor(async () => {
      const l = (await master.api<{ host: string; reportsReceived: number; load1: number }[]>("/api/v1/load")).body.find((x) => x.host === "tcp-host");
      return l && l.reportsReceived === 3 ? l : null;
    }, 5000, "3 reports over TCP");
    expect(load.load1).toBe(2.5);
    sock.end();
    h.ws.close();
  }, 10_000);

  test("a bad length prefix is counted and ends only that connection", async () => {
    const before = (await master.api<{ ingest: { dropped: Record<string, number> } }>("/api/v1/status")).body.ingest.dropped.long!;
    let ended = false;
    const sock = await Bun.connect({ hostname: "127.0.0.1", port: tcpPort, socket: { data() {}, close() { ended = true; } } });
    sock.write(new Uint8Array([0, 0, 0x10, 0, 1, 2, 3, 4])); // claims 4096 bytes
    sock.flush();
    await waitFor(() => ended, 3000, "connection closed by the master");
    const after = (await master.api<{ ingest: { dropped: Record<string, number> } }>("/api/v1/status")).body.ingest.dropped.long!;
    expect(after).toBe(before + 1);
    expect((await master.api("/healthz", { token: null })).status).toBe(200);
  }, 10_000);
});

describe("announces", () => {
  test("announces to an agent whose port is closed (ICMP unreachable) are counted, and the master carries on", async () => {
    const h = await register("gone-port", true); // reportPort 7: nothing listens there
    await waitFor(async () => {
      const m = (await master.api<string>("/metrics")).body;
      return /lava_udp_errors_total [1-9]/.test(m);
    }, 5000, "an ICMP error counted");
    expect((await master.api("/healthz", { token: null })).status).toBe(200);
    h.ws.close();
  }, 10_000);
});

describe("heartbeat", () => {
  test("the master pings; an agent that answers stays, one that misses 2 pongs is dropped and shows unreach", async () => {
    const good = await register("pong-yes", true);
    const bad = await register("pong-no", false);
    expect(await bad.closed).toBe(4001);
    expect(bad.msgs.filter((m) => m.type === "ping").length).toBeGreaterThanOrEqual(2);
    expect(good.ws.readyState).toBe(WebSocket.OPEN);
    expect(good.msgs.some((m) => m.type === "ping")).toBe(true);
    const hosts = (await master.api<{ host: string; connected: boolean }[]>("/api/v1/hosts")).body;
    expect(hosts.find((h) => h.host === "pong-no")?.connected).toBe(false);
    expect(hosts.find((h) => h.host === "pong-yes")?.connected).toBe(true);
    good.ws.close();
  }, 10_000);
});
