/**
 * MASTER_SYNC with the compiled binary: three masters, 200 simulated agents
 * (tests/helpers/sim-fleet.ts) reporting every second to the leader.
 *   - A follower answers `lava ctl load` itself, from the leader's live
 *     load, at most one report behind the leader.
 *   - After SIGKILL of the leader, the new leader's very first `ctl load`
 *     shows all 200 hosts `ok` (no gap while the reports find it).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { runLava } from "../helpers/binary.ts";
import { TestCluster } from "../helpers/masters.ts";
import { startSimFleet, type SimFleet } from "../helpers/sim-fleet.ts";
import { waitFor } from "../helpers/wait.ts";
import type { TestMaster } from "../helpers/cluster.ts";
import { teardown } from "../helpers/teardown.ts";

const HOSTS = 200;
type Load = { host: string; status: string; ageMs: number | null; reportsReceived: number; load1: number | null };

let c: TestCluster;
let fleet: SimFleet | null = null;

beforeAll(async () => {
  c = await TestCluster.start(3, { config: "master:\n  reportInterval: 1\n" });
}, 30_000);
afterAll(() => teardown({ clients: [fleet], masters: [c] }));

async function ctlLoad(m: TestMaster, token: string): Promise<Load[]> {
  const r = await runLava(["ctl", "load", "--json"], { env: { LAVA_MASTER: m.addr, LAVA_TOKEN: token } });
  if (r.code !== 0) throw new Error(`ctl load on ${m.addr}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Load[];
}

async function apiLoad(m: TestMaster, token: string): Promise<{ rows: Load[]; headers: Headers }> {
  const res = await fetch(`${m.url}/api/v1/load`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`load on ${m.addr}: HTTP ${res.status}`);
  return { rows: (await res.json()) as Load[], headers: res.headers };
}

test("followers serve live load from the leader's stream; a new leader's first ctl load shows every host ok", async () => {
  const leader = await c.leader(10_000);
  const token = leader.adminToken;
  fleet = await startSimFleet({ master: { addr: leader.addr, udpPort: leader.run.udpPort }, token, n: HOSTS, prefix: "sim-", intervalMs: 1000 });
  await waitFor(async () => {
    const rows = await ctlLoad(leader, token);
    return rows.length === HOSTS && rows.every((r) => r.status === "ok");
  }, 20_000, `${HOSTS} hosts ok on the leader`);

  // A follower answers itself (not proxied) and is at most one report behind the leader.
  const follower = c.masters.find((m) => m !== leader)!;
  const f = await waitFor(async () => {
    const a = await apiLoad(follower, token);
    return a.headers.get("x-lava-sync-age-ms") !== null && a.rows.every((r) => r.status === "ok") ? a : null;
  }, 10_000, "a follower answering load from its own table");
  expect(f.headers.get("x-lava-served-by")).toBe(follower.addr);
  const l = await apiLoad(leader, token);
  expect(f.rows.map((r) => r.host)).toEqual(l.rows.map((r) => r.host));
  const behind = f.rows.map((r, i) => l.rows[i]!.reportsReceived - r.reportsReceived);
  console.log(`follower vs leader: reports behind max ${Math.max(...behind)}, sync age ${f.headers.get("x-lava-sync-age-ms")} ms`);
  expect(Math.max(...behind)).toBeLessThanOrEqual(1);
  expect(Math.min(...behind)).toBeGreaterThanOrEqual(0);
  // ctl load through the follower: the same table.
  const viaCtl = await ctlLoad(follower, token);
  expect(viaCtl.length).toBe(HOSTS);
  expect(viaCtl.every((r) => r.status === "ok")).toBe(true);

  // hosts too: durable fields after a read-index round, live ones (channel at the leader) from the stream.
  const hostsRes = await fetch(`${follower.url}/api/v1/hosts`, { headers: { authorization: `Bearer ${token}` } });
  expect(hostsRes.headers.get("x-lava-served-by")).toBe(follower.addr);
  const hostRows = (await hostsRes.json()) as { host: string; status: string; connected: boolean }[];
  expect(hostRows.length).toBe(HOSTS);
  expect(hostRows.every((h) => h.status === "ok" && h.connected)).toBe(true);
  // Both ends are visible in /metrics and status.
  expect(await (await fetch(`${follower.url}/metrics`)).text()).toMatch(/^lava_sync_age_seconds \d/m);
  expect(await (await fetch(`${leader.url}/metrics`)).text()).toMatch(new RegExp(`^lava_sync_follower_failing\\{node="${c.masters.indexOf(follower) + 1}"\\} 0$`, "m"));
  const st = (await (await fetch(`${follower.url}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { sync: { role: string; leader: number; ageMs: number } };
  expect(st.sync).toMatchObject({ role: "follower", leader: c.masters.indexOf(leader) + 1 });

  // Failover: the new leader's first answer already has every host ok.
  await leader.proc.kill9();
  const next = await c.leader(5000, leader);
  const first = await ctlLoad(next, token);
  const notOk = first.filter((r) => r.status !== "ok");
  console.log(`new leader's first ctl load: ${first.length - notOk.length}/${first.length} ok${notOk.length ? ` (${notOk.slice(0, 3).map((r) => `${r.host} ${r.status} age ${r.ageMs}`).join(", ")})` : ""}`);
  expect(first.length).toBe(HOSTS);
  expect(notOk).toEqual([]);
  // And it stays so: the reports move to it at its first announce.
  await waitFor(() => fleet!.retargets >= HOSTS, 5000, "every simulated agent reporting to the new leader");
  await Bun.sleep(0);
  const later = await waitFor(async () => {
    const rows = await ctlLoad(next, token);
    return rows.every((r) => r.status === "ok" && r.ageMs !== null && r.ageMs < 1500) ? rows : null;
  }, 5000, "fresh reports on the new leader");
  expect(later.length).toBe(HOSTS);
}, 90_000);
