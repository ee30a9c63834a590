/**
 * Load-report ingest end to end: the compiled master, and a raw client
 * written here from design §2/§4 alone (it does not use src/wire), so the
 * test pins the wire format as other implementations will see it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { udp } from "bun";
import { TestMaster } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { newHostKey, signedRegister } from "../helpers/host-key.ts";
import type { HostKey } from "../../src/auth/index.ts";
import { teardown } from "../helpers/teardown.ts";

interface Auth {
  hostId: number;
  seq: number;
  key: Uint8Array;
}

/** SLAVE_REPORT per design §2, big-endian. */
function report(vec: number[], stats: number[], auth?: Auth, op = 11): Uint8Array {
  const len = auth ? 136 : 104;
  const buf = new Uint8Array(12 + len);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, op);
  dv.setUint32(4, len);
  dv.setUint32(8, auth ? 1 : 0);
  let p = 12;
  if (auth) {
    dv.setUint32(12, auth.hostId);
    dv.setUint32(16, auth.seq);
    p = 44;
  }
  vec.forEach((x, i) => dv.setFloat64(p + 8 * i, x));
  stats.forEach((x, i) => dv.setUint32(p + 88 + 4 * i, x));
  if (auth) {
    const mac = createHmac("sha256", auth.key).update(buf.subarray(0, 20)).update(buf.subarray(44)).digest();
    buf.set(mac.subarray(0, 24), 20);
  }
  return buf;
}

const VEC = [1.5, 1.25, 1, 3e9, 5e9, 1e8, 9e8, 4, 12.5, 7.5, 80];
const STATS = [0, 0, 321, 0];

/** One host key per host name, as each real host keeps its own. */
const hostKeys = new Map<string, HostKey>();

async function register(master: TestMaster, hostname: string, reportPort: number): Promise<{ ws: WebSocket; hostId: number; key: Uint8Array; udpPort: number; reportIntervalMs: number }> {
  const hostKey = hostKeys.get(hostname) ?? (await newHostKey());
  hostKeys.set(hostname, hostKey);
  const msg = await signedRegister({ hostname, hardware: { ncpus: 4, memBytes: 8e9, gpus: 0 }, reportPort, version: "test" }, hostKey, master.adminToken);
  const ws = new WebSocket(`ws://${master.addr}/ws`, { headers: { authorization: `Bearer ${master.adminToken}` } } as unknown as string[]);
  const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify(msg));
    ws.onmessage = (e) => resolve(JSON.parse(String(e.data)));
    ws.onerror = () => reject(new Error("ws error"));
  });
  expect(reply.type).toBe("registered");
  return { ws, hostId: reply.hostId as number, key: Buffer.from(reply.sessionKey as string, "base64"), udpPort: reply.udpPort as number, reportIntervalMs: reply.reportIntervalMs as number };
}

type Status = { ingest: { accepted: number; dropped: Record<string, number> }; hosts: Record<string, number> };
type Load = Record<string, unknown> & { host: string; status: string };

let master: TestMaster;
let sock: udp.Socket<"buffer">;
const received: Uint8Array[] = [];

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  announceInterval: 0.2\n" });
  sock = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: (_s, buf) => void received.push(new Uint8Array(buf)) } });
}, 20_000);

afterAll(() => teardown({ clients: [sock], masters: [master] }));

const send = (b: Uint8Array) => sock.send(b, master.run.udpPort, "127.0.0.1");
const status = async () => (await master.api<Status>("/api/v1/status")).body;
const loadOf = async (host: string) => (await master.api<Load[]>("/api/v1/load")).body.find((h) => h.host === host);

describe("master ingest (raw client from the spec)", () => {
  test("registration hands out a host id, a 32-byte session key, the interval and the UDP port", async () => {
    const r = await register(master, "raw-a", sock.port);
    expect(r.hostId).toBeGreaterThan(0);
    expect(r.key.length).toBe(32);
    expect(r.udpPort).toBe(master.run.udpPort);
    expect(r.reportIntervalMs).toBe(1000);
    r.ws.close();
  }, 10_000);

  test("an AUTH report's values reach `load` exactly, with the design §8 field names", async () => {
    const r = await register(master, "raw-b", sock.port);
    send(report(VEC, [2, 3, 321, 0], { hostId: r.hostId, seq: 1, key: r.key }));
    const h = await waitFor(async () => {
      const l = await loadOf("raw-b");
      return l && l.load1 !== null ? l : null;
    }, 5000, "raw-b's report");
    expect(h).toMatchObject({
      host: "raw-b",
      hostId: r.hostId,
      status: "ok",
      load1: 1.5,
      load5: 1.25,
      load15: 1,
      memUsed: 3e9,
      memFree: 5e9,
      swapUsed: 1e8,
      swapFree: 9e8,
      ncpus: 4,
      cpuUser: 12.5,
      cpuSys: 7.5,
      cpuIdle: 80,
      jobsRunning: 2,
      jobsPending: 3,
      procsTotal: 321,
      flags: 0,
    });
    expect(typeof h.ageMs).toBe("number");
    r.ws.close();
  }, 10_000);

  test("every bad datagram is dropped and counted by its reason; the good sender is unaffected", async () => {
    const good = await register(master, "raw-good", sock.port);
    const before = (await status()).ingest;
    let seq = 1;
    const goodReport = () => send(report(VEC, STATS, { hostId: good.hostId, seq: seq++, key: good.key }));
    goodReport();

    const auth = (s: number) => ({ hostId: good.hostId, seq: s, key: good.key });
    const valid = report(VEC, STATS, auth(100));
    const badLen = valid.slice();
    new DataView(badLen.buffer).setUint32(4, 200);
    const badTag = valid.slice();
    badTag[30]! ^= 0xff;
    const cases: [string, Uint8Array][] = [
      ["short", new Uint8Array(5)],
      ["long", new Uint8Array(1100)],
      ["bad_len", badLen],
      ["unknown_op", report(VEC, STATS, auth(101), 99)],
      ["bad_tag", badTag],
      ["bad_tag", report(VEC, STATS, { ...auth(102), key: new Uint8Array(32) })],
      ["non_finite", report([NaN, ...VEC.slice(1)], STATS, auth(103))],
      ["non_finite", report([1, Infinity, ...VEC.slice(2)], STATS, auth(104))],
      ["negative", report([-1, ...VEC.slice(1)], STATS, auth(105))],
      ["unknown_host", report(VEC, STATS, { hostId: 99_999, seq: 1, key: good.key })],
      ["unauthenticated", report(VEC, STATS)],
    ];
    for (const [, bytes] of cases) send(bytes);
    goodReport();
    goodReport();
    // Replay: the same seq again, after later ones were accepted.
    send(report(VEC, STATS, auth(2)));

    const expected: Record<string, number> = { replay: 1 };
    for (const [reason] of cases) expected[reason] = (expected[reason] ?? 0) + 1;
    const after = await waitFor(async () => {
      const s = (await status()).ingest;
      const done = Object.entries(expected).every(([r, n]) => s.dropped[r]! - before.dropped[r]! >= n) && s.accepted - before.accepted >= 3;
      return done ? s : null;
    }, 5000, "all drops counted");
    for (const [reason, n] of Object.entries(expected)) expect({ reason, n: after.dropped[reason]! - before.dropped[reason]! }).toEqual({ reason, n });
    expect(after.accepted - before.accepted).toBe(3);

    const metrics = (await master.api<string>("/metrics")).body;
    expect(metrics).toContain(`lava_ingest_dropped_total{reason="replay"} ${after.dropped.replay}`);
    expect(metrics).toContain(`lava_ingest_dropped_total{reason="short"} ${after.dropped.short}`);
    expect(metrics).toMatch(/lava_host_load1\{host="raw-good"\} 1.5/);
    good.ws.close();
  }, 15_000);

  test("report loss is measured from seq gaps", async () => {
    const r = await register(master, "raw-loss", sock.port);
    for (const seq of [1, 2, 5, 6]) send(report(VEC, STATS, { hostId: r.hostId, seq, key: r.key }));
    const h = await waitFor(async () => {
      const l = await loadOf("raw-loss");
      return l && l.reportsReceived === 4 ? l : null;
    }, 5000, "4 reports");
    expect(h.reportsLost).toBe(2);
    expect(h.lossPct).toBeCloseTo(33.33, 1);
    r.ws.close();
  }, 10_000);

  test("a host whose control channel closes but keeps reporting is unreach; a silent one becomes unavail", async () => {
    const r = await register(master, "raw-states", sock.port);
    let seq = 1;
    send(report(VEC, STATS, { hostId: r.hostId, seq: seq++, key: r.key }));
    await waitFor(async () => (await loadOf("raw-states"))?.status === "ok", 5000, "ok");
    r.ws.close();
    // Keep reporting: the session key stays valid, only the channel is down.
    const keepAlive = setInterval(() => send(report(VEC, STATS, { hostId: r.hostId, seq: seq++, key: r.key })), 200);
    try {
      await waitFor(async () => (await loadOf("raw-states"))?.status === "unreach", 5000, "unreach");
    } finally {
      clearInterval(keepAlive);
    }
    // Silence: 3 intervals (+ jitter allowance) of 1 s.
    await waitFor(async () => (await loadOf("raw-states"))?.status === "unavail", 8000, "unavail", 100);
    const s = await status();
    expect(s.hosts.unavail).toBeGreaterThanOrEqual(1);
  }, 20_000);

  test("MASTER_ANN arrives at the registered report address, signed with the session key", async () => {
    received.length = 0;
    const r = await register(master, "raw-ann", sock.port);
    const ann = await waitFor(() => received.find((b) => new DataView(b.buffer).getUint32(0) === 10 && new DataView(b.buffer).getUint32(12) === r.hostId), 3000, "an announce");
    const dv = new DataView(ann.buffer);
    expect(dv.getUint32(4)).toBe(ann.length - 12);
    expect(dv.getUint32(8)).toBe(1);
    const mac = createHmac("sha256", r.key).update(ann.subarray(0, 20)).update(ann.subarray(44)).digest();
    expect(Buffer.from(ann.subarray(20, 44)).equals(mac.subarray(0, 24))).toBe(true);
    // payload: node_id, term, interval, window_base, addr_len, bitmap_len, addr, bitmap
    const p = 44;
    expect(dv.getUint32(p + 12)).toBe(1000);
    const addrLen = dv.getUint16(p + 20);
    expect(new TextDecoder().decode(ann.subarray(p + 24, p + 24 + addrLen))).toBe(master.addr);
    const base = dv.getUint32(p + 16);
    const bit = r.hostId - base;
    expect(ann[p + 24 + addrLen + (bit >> 3)]! & (0x80 >> (bit & 7))).not.toBe(0);
    r.ws.close();
  }, 10_000);

  test("a second registration of the same hostname keeps its hostId and replaces the first session", async () => {
    const a = await register(master, "raw-twice", sock.port);
    const closed = new Promise<number>((resolve) => a.ws.addEventListener("close", (e) => resolve(e.code)));
    const b = await register(master, "raw-twice", sock.port);
    expect(b.hostId).toBe(a.hostId);
    expect(await closed).toBe(4000);
    // The old key no longer verifies.
    const before = (await status()).ingest.dropped.bad_tag!;
    send(report(VEC, STATS, { hostId: a.hostId, seq: 1, key: a.key }));
    await waitFor(async () => (await status()).ingest.dropped.bad_tag! > before, 3000, "old key refused");
    b.ws.close();
  }, 10_000);
});

describe("control channel and API auth", () => {
  test("/ws without a token is 401; a read token cannot register; bad messages get errors and the socket stays up", async () => {
    const res = await fetch(`http://${master.addr}/ws`, { headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(res.status).toBe(401);
    const read = (await master.api<{ token: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "read" }) })).body.token;
    const res2 = await fetch(`http://${master.addr}/ws?token=${read}`, { headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(res2.status).toBe(403);

    const ws = new WebSocket(`ws://${master.addr}/ws?token=${master.adminToken}`);
    const replies: Record<string, unknown>[] = [];
    ws.onmessage = (e) => replies.push(JSON.parse(String(e.data)));
    await new Promise((r) => (ws.onopen = r));
    ws.send("not json");
    ws.send(JSON.stringify({ type: "register", hostname: "bad host name!", hardware: { ncpus: 1, memBytes: 1 }, reportPort: 1, version: "x" }));
    ws.send(JSON.stringify({ type: "nope" }));
    await waitFor(() => replies.length >= 3, 3000, "3 error replies");
    expect(replies.map((r) => r.type)).toEqual(["error", "error", "error"]);
    expect(replies[0]!.error).toBe("bad_json");
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  }, 10_000);

  test("queries need a token; a read token cannot mint tokens; errors are JSON with a reason", async () => {
    const none = await master.api<{ error: string; detail: string }>("/api/v1/load", { token: null });
    expect(none.status).toBe(401);
    expect(none.body.detail).toContain("token");
    const read = (await master.api<{ token: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "read" }) })).body.token;
    expect((await master.api("/api/v1/load", { token: read })).status).toBe(200);
    const mint = await master.api<{ error: string }>("/api/v1/tokens", { method: "POST", token: read, body: JSON.stringify({ role: "admin" }) });
    expect(mint.status).toBe(403);
    const agent = (await master.api<{ token: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "agent" }) })).body.token;
    expect((await master.api("/api/v1/load", { token: agent })).status).toBe(403);
    const bad = await master.api<{ error: string; detail: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "root" }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("bad_request");
    expect((await master.api("/api/v1/nope")).status).toBe(404);
    expect((await master.api("/healthz", { token: null })).status).toBe(200);
  }, 10_000);
});
