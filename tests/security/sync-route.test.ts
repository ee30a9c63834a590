/**
 * POST /_raft/sync (MASTER_SYNC between masters) as an attacker sees it, on
 * a master started in this process: without the peer signature, with a
 * forged one, with a body that is not MASTER_SYNC framing, with one too
 * large, and signed correctly by a master this one does not follow. None of
 * them changes the host table.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { loadOrCreateSecret } from "../../src/auth/index.ts";
import { bodyHash, PeerAuth } from "../../src/master/raft/peer-auth.ts";
import { syncBody, syncDatagrams, SYNC_PATH } from "../../src/master/sync/index.ts";
import { encodeFrame, encodeReport, type SyncRecord } from "../../src/wire/index.ts";
import { LocalMaster, RawAgent } from "../master/raw-agent.ts";

let m: LocalMaster;
let agent: RawAgent;
let auth: PeerAuth;

beforeAll(async () => {
  m = await LocalMaster.start({ reportInterval: 1 });
  agent = await RawAgent.connect(m, "victim");
  auth = new PeerAuth(loadOrCreateSecret(join(m.dataDir, "secret")).secret);
});
afterAll(async () => {
  await agent?.close();
  await m?.stop();
});

const record = (hostId: number): SyncRecord => ({
  hostId, session: 0, seq: 0, ageMs: 10, channel: true, lost: 0, received: 1,
  report: { load1: 99, load5: 1, load15: 1, memUsed: 1, memFree: 1, swapUsed: 0, swapFree: 0, ncpus: 1, cpuUser: 1, cpuSys: 1, cpuIdle: 1, jobsRunning: 0, jobsPending: 0, procsTotal: 1, flags: 0 },
});
const body = (from = 1, term = 1) => syncBody(syncDatagrams({ nodeId: from, term, batch: 1, full: true }, [record(agent.hostId)]));
const post = (b: Uint8Array, headers: Record<string, string> = {}) => fetch(`http://${m.addr}${SYNC_PATH}`, { method: "POST", body: b, headers });
const signed = (from: number, b: Uint8Array) => auth.sign(from, "127.0.0.1:1", "POST", SYNC_PATH, bodyHash(b)).headers;

async function victimLoad1(): Promise<number | null> {
  const rows = (await m.json<{ host: string; load1: number | null }[]>("/api/v1/load")).body;
  return rows.find((r) => r.host === "victim")?.load1 ?? null;
}

test("no peer signature: 401, nothing applied", async () => {
  const res = await post(body());
  expect(res.status).toBe(401);
  expect(((await res.json()) as { error: string }).error).toBe("peer_auth");
  expect(await victimLoad1()).toBeNull();
});

test("a signature made with another secret: 401", async () => {
  const other = new PeerAuth(new Uint8Array(32).fill(3));
  const b = body();
  const res = await post(b, other.sign(1, "127.0.0.1:1", "POST", SYNC_PATH, bodyHash(b)).headers);
  expect(res.status).toBe(401);
});

test("a signature for another path cannot be reused here", async () => {
  const b = body();
  const res = await post(b, auth.sign(1, "127.0.0.1:1", "POST", "/_raft/append", bodyHash(b)).headers);
  expect(res.status).toBe(401);
});

test("signed, but the body is not MASTER_SYNC framing: 400", async () => {
  const junk = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
  expect((await post(junk, signed(1, junk))).status).toBe(400);
  // A well-formed SLAVE_REPORT frame is not a sync.
  const report = encodeFrame(encodeReport(record(1).report!));
  expect((await post(report, signed(1, report))).status).toBe(400);
  // A sync frame with a bad value inside.
  const bad = body();
  bad[4 + 12 + 16] = 0xff; // the flags byte of the first datagram
  expect((await post(bad, signed(1, bad))).status).toBe(400);
  expect(await victimLoad1()).toBeNull();
});

test("a body over the bound is refused before it is read: 413", async () => {
  const res = await fetch(`http://${m.addr}${SYNC_PATH}`, { method: "POST", headers: { ...signed(1, new Uint8Array(16)), "content-length": String(65 << 20) }, body: new Uint8Array(16) }).catch(() => null);
  // Bun may refuse to send a body shorter than its content-length; either way nothing is applied.
  if (res) expect([400, 413]).toContain(res.status);
  expect(await victimLoad1()).toBeNull();
});

test("signed by a master this one does not follow (it leads alone): 409 not_leader, nothing applied", async () => {
  const b = body(2, 99);
  const res = await post(b, signed(2, b));
  expect(res.status).toBe(409);
  expect(((await res.json()) as { error: string }).error).toBe("not_leader");
  expect(await victimLoad1()).toBeNull();
});

test("datagrams naming another node than the signer: 400", async () => {
  const b = body(3, 1);
  const res = await post(b, signed(2, b));
  expect(res.status).toBe(400);
});

test("a signed sync with another body, or sent twice: 401 (the signature covers the body; each nonce once)", async () => {
  const b = body(2, 99);
  const h = signed(2, b);
  expect((await post(body(1, 1), h)).status).toBe(401);
  // Sent as signed: authenticated (and refused for another reason, see above); sent again: a replay.
  expect((await post(b, h)).status).toBe(409);
  const again = await post(b, h);
  expect(again.status).toBe(401);
  expect(((await again.json()) as { detail: string }).detail).toContain("replayed");
  expect(await victimLoad1()).toBeNull();
});
