#!/usr/bin/env bun
/**
 * Live load on followers (MASTER_SYNC, issue 14). Three compiled masters on
 * loopback, N simulated agents (tests/helpers/sim-fleet.ts: registered over
 * the control channel, an authenticated report every interval, following a
 * new leader's announce), then:
 *
 *   - GET /api/v1/load (every host) on the leader and on a follower, taking
 *     turns, `--samples` each: p50 and p90 of the whole answer, and the
 *     follower's as a ratio to the leader's (target: the same 100 ms);
 *   - how far the follower is behind: reports per host the leader counted
 *     that the follower did not, read back to back;
 *   - SIGKILL of the leader: how many hosts the new leader's first answer
 *     shows `ok`, and the time from the kill to an answer with all `ok`
 *     (before MASTER_SYNC the new leader had no load until the reports
 *     found it, ~0.5–0.6 s after its election).
 *
 *   bun run build && bun bench/sync.ts [--hosts 10000] [--interval 2] [--samples 20] [--smoke] [--out FILE]
 *
 * --smoke: 100 agents, 1 s reports, 3 samples (CI: the benchmark cannot rot).
 */
import { parseFlags } from "./lib/args.ts";
import { binaryVersion, lavaBinary, LIFT_REGISTRATION_LIMITS } from "./lib/master.ts";
import { writeResult } from "./lib/results.ts";
import { percentile, round } from "./lib/stats.ts";
import { TestCluster } from "../tests/helpers/masters.ts";
import { startSimFleet } from "../tests/helpers/sim-fleet.ts";
import { waitFor } from "../tests/helpers/wait.ts";
import type { TestMaster } from "../tests/helpers/cluster.ts";

const flags = parseFlags("bun bench/sync.ts", process.argv.slice(2), {
  hosts: { kind: "number", default: 10_000, min: 1, integer: true, help: "simulated agents" },
  interval: { kind: "number", default: 2, min: 1, help: "report interval, seconds" },
  samples: { kind: "number", default: 20, min: 1, integer: true, help: "load answers timed per master" },
  bin: { kind: "string", default: null, help: "lava binary (default dist/lava)" },
  smoke: { kind: "boolean", default: false, help: "100 agents reporting every second, 3 samples: a quick check that it all works (CI)" },
  out: { kind: "string", default: null, help: "result file" },
});

const SMOKE = flags.smoke;
const HOSTS = SMOKE ? Math.min(flags.hosts, 100) : flags.hosts;
const INTERVAL = SMOKE ? 1 : flags.interval;
const SAMPLES = SMOKE ? Math.min(flags.samples, 3) : flags.samples;
type Row = { host: string; status: string; reportsReceived: number };
const bin = lavaBinary(flags.bin);
// The test cluster helper runs LAVA_TEST_BINARY as it is (it would rebuild a stale dist/lava behind the caller's back otherwise).
process.env.LAVA_TEST_BINARY = bin;
const c = await TestCluster.start(3, { config: `master:\n  reportInterval: ${INTERVAL}\n  wsAdmitPerSec: 2000\n${LIFT_REGISTRATION_LIMITS}  log:\n    level: warn\n` });
let fleet: Awaited<ReturnType<typeof startSimFleet>> | null = null;
try {
  const leader = await c.leader(10_000);
  const token = leader.adminToken;
  const follower = c.masters.find((m) => m !== leader)!;
  const load = async (m: TestMaster): Promise<{ ms: number; rows: Row[]; synced: boolean }> => {
    const t0 = performance.now();
    const res = await fetch(`${m.url}/api/v1/load`, { headers: { authorization: `Bearer ${token}` } });
    const rows = (await res.json()) as Row[];
    return { ms: performance.now() - t0, rows, synced: res.headers.get("x-lava-sync-age-ms") !== null };
  };
  const t0 = performance.now();
  fleet = await startSimFleet({ master: { addr: leader.addr, udpPort: leader.run.udpPort }, token, n: HOSTS, prefix: "b", intervalMs: INTERVAL * 1000 });
  console.error(`bench: ${HOSTS} agents registered in ${round((performance.now() - t0) / 1000, 1)} s`);
  await waitFor(async () => {
    const f = await load(follower);
    return f.synced && f.rows.length === HOSTS && f.rows.every((r) => r.status === "ok");
  }, 120_000, "every host ok on the follower", 500);

  const lead: number[] = [];
  const foll: number[] = [];
  let behindMax = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const f = await load(follower);
    const l = await load(leader);
    foll.push(f.ms);
    lead.push(l.ms);
    if (!f.synced) throw new Error("the follower forwarded a load read: its copy was not fresh");
    const byHost = new Map(f.rows.map((r) => [r.host, r.reportsReceived]));
    for (const r of l.rows) behindMax = Math.max(behindMax, r.reportsReceived - (byHost.get(r.host) ?? 0));
  }
  const p = (xs: number[], q: number) => round(percentile(xs, q), 1);

  const killedAt = performance.now();
  await leader.proc.kill9();
  const next = await c.leader(10_000, leader);
  const electedMs = performance.now() - killedAt;
  const first = await load(next);
  const firstOk = first.rows.filter((r) => r.status === "ok").length;
  const allOk = await waitFor(async () => {
    const a = await load(next);
    return a.rows.length === HOSTS && a.rows.every((r) => r.status === "ok") ? performance.now() - killedAt : null;
  }, 30_000, "every host ok on the new leader", 20);

  const result = {
    smoke: SMOKE,
    binary: binaryVersion(bin),
    hosts: HOSTS,
    reportIntervalS: INTERVAL,
    loadMs: {
      leader: { p50: p(lead, 50), p90: p(lead, 90) },
      follower: { p50: p(foll, 50), p90: p(foll, 90) },
      followerToLeaderP50: round(percentile(foll, 50) / percentile(lead, 50), 2),
    },
    followerBehindReportsMax: behindMax,
    failover: {
      electedAfterKillMs: round(electedMs, 0),
      firstAnswerMs: round(first.ms, 1),
      firstAnswerOk: firstOk,
      firstAnswerHosts: first.rows.length,
      allOkAfterKillMs: round(allOk, 0),
      allOkAfterElectionMs: round(allOk - electedMs, 0),
    },
  };
  console.log(JSON.stringify(result, null, 2));
  console.error(`bench: wrote ${writeResult(SMOKE ? "sync-smoke" : "sync", result, flags.out)}`);
} finally {
  fleet?.stop();
  await c.stop();
  c.cleanup();
}
