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
import { PeerAuth } from "../../src/master/raft/peer-auth.ts";
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
const signed = (from: number) => auth.headers(from, "127.0.0.1:1", "POST", SYNC_PATH, Date.now() / 1000);

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
  const res = await post(body(), other.headers(1, "127.0.0.1:1", "POST", SYNC_PATH, Date.now() / 1000));
  expect(res.status).toBe(401);
});

test("a signature for another path cannot be reused here", async () => {
  const res = await post(body(), auth.headers(1, "127.0.0.1:1", "POST", "/_raft/append", Date.now() / 1000));
  expect(res.status).toBe(401);
});

test("signed, but the body is not MASTER_SYNC framing: 400", async () => {
  expect((await post(new Uint8Array([1, 2, 3, 4, 5, 6, 7]), signed(1))).status).toBe(400);
  // A well-formed SLAVE_REPORT frame is not a sync.
  const report = encodeFrame(encodeReport(record(1).report!));
  expect((await post(report, signed(1))).status).toBe(400);
  // A sync frame with a bad value inside.
  const bad = body();
  bad[4 + 12 + 16] = 0xff; // the flags byte of the first datagram
  expect((await post(bad, signed(1))).status).toBe(400);
  expect(await victimLoad1()).toBeNull();
});

test("a body over the bound is refused before it is read: 413", async () => {
  const res = await fetch(`http://${m.addr}${SYNC_PATH}`, { method: "POST", headers: { ...signed(1), "content-length": String(65 << 20) }, body: new Uint8Array(16) }).catch(() => null);
  // Bun may refuse to send a body shorter than its content-length; either way nothing is applied.
  if (res) expect([400, 413]).toContain(res.status);
  expect(await victimLoad1()).toBeNull();
});

test("signed by a master this one does not follow (it leads alone): 409 not_leader, nothing applied", async () => {
  const res = await post(body(2, 99), signed(2));
  expect(res.status).toBe(409);
  expect(((await res.json()) as { error: string }).error).toBe("not_leader");
  expect(await victimLoad1()).toBeNull();
});

test("datagrams naming another node than the signer: 400", async () => {
  const res = await post(body(3, 1), signed(2));
  expect(res.status).toBe(400);
});
