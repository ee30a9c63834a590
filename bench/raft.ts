#!/usr/bin/env bun
/**
 * Replicated-master benchmark (issue: replicated masters). Three compiled
 * masters on loopback against the same workload on a single master, in the
 * same run:
 *
 *   - committed writes/s and commit latency p50/p99 with 1 client (each
 *     write waits for the previous) and with 64 concurrent clients;
 *   - time from SIGKILL of the leader to the next acknowledged write (a
 *     single master: SIGKILL, restart, first write).
 *
 * A write is `POST /api/v1/tokens` (a token.create command through the log:
 * on three masters, committed on a majority, fsync'ed on each, then
 * applied), sent to the leader. Every figure is also printed as a ratio to
 * the single master's. Targets (a 3-member etcd 3.4 on this machine through
 * its JSON gateway): ~780 writes/s sequential, p50 1.1 ms, p99 6.9 ms;
 * ~4,400 writes/s at 64 clients, p99 33 ms; ~1.0 s from leader kill to the
 * next write; and ≥ 0.5 × the single master's throughput at 64 clients.
 *
 * The single master and the cluster run side by side and take turns in
 * rounds (each figure is the median of its rounds), so that drift in the
 * machine's speed hits both alike.
 *
 *   bun run build && bun bench/raft.ts [--seconds 6] [--rounds 3] [--kills 5]
 */
import { rmSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags } from "./lib/args.ts";
import { BenchMaster, binaryVersion, lavaBinary } from "./lib/master.ts";
import { writeResult } from "./lib/results.ts";
import { percentile, round } from "./lib/stats.ts";
import { freePorts } from "../tests/helpers/masters.ts";
import { waitFor } from "../tests/helpers/wait.ts";

const flags = parseFlags("bun bench/raft.ts", process.argv.slice(2), {
  seconds: { kind: "number", default: 6, min: 0.5, help: "seconds per throughput figure, split over the rounds" },
  rounds: { kind: "number", default: 3, min: 1, integer: true, help: "rounds the single master and the cluster take turns in" },
  kills: { kind: "number", default: 5, min: 1, integer: true, help: "leader kills (and single-master kills) to time" },
  bin: { kind: "string", default: null, help: "lava binary (default dist/lava)" },
  out: { kind: "string", default: null, help: "result file" },
});

const bin = lavaBinary(flags.bin);
const root = mkdtempSync(join(tmpdir(), "lava-bench-raft-"));
const secretFile = join(root, "secret");
writeFileSync(secretFile, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") + "\n", { mode: 0o600 });

let seq = 0;
/** One write to `addr`; true when acknowledged (201). */
async function write(addr: string, token: string, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await fetch(`http://${addr}/api/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ role: "read", subject: `bench-${seq++}` }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.status === 201;
  } catch {
    return false;
  }
}

interface Rate {
  clients: number;
  writesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

async function rate(addr: string, token: string, clients: number, seconds: number): Promise<Rate> {
  // Warm up the connections and the master's statement cache.
  await Promise.all(Array.from({ length: clients }, () => write(addr, token)));
  const lat: number[] = [];
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        if (await write(addr, token)) lat.push(performance.now() - s);
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { clients, writesPerSec: round(lat.length / elapsed, 1), p50Ms: round(percentile(lat, 50), 3), p99Ms: round(percentile(lat, 99), 3), failed };
}

async function health(addr: string): Promise<{ state: string; node_id: number; leader_id: number; term: number } | null> {
  try {
    const res = await fetch(`http://${addr}/_raft/health`, { signal: AbortSignal.timeout(500) });
    return res.ok ? ((await res.json()) as { state: string; node_id: number; leader_id: number; term: number }) : null;
  } catch {
    return null;
  }
}

async function leaderOf(ms: BenchMaster[]): Promise<BenchMaster> {
  return waitFor(
    async () => {
      const live = ms.filter((m) => m.proc && m.proc.exitCode === null && m.proc.signalCode === null);
      const hs = await Promise.all(live.map((m) => health(m.addr)));
      const lead = hs.find((h) => h?.state === "Leader");
      if (!lead || !hs.every((h) => h && h.leader_id === lead.node_id && h.term === lead.term)) return null;
      return ms[lead.node_id - 1]!;
    },
    10_000,
    "an agreed leader",
    5,
  );
}

/**
 * A writer that keeps one write in flight, trying the masters in turn.
 * Resolves the time from `killedAt` to the first write acknowledged after it.
 */
async function timeToNextWrite(addrs: string[], token: string, kill: () => Promise<void>): Promise<number> {
  let stop = false;
  let firstAfter = 0;
  let killedAt = 0;
  let via = 0;
  const loop = (async () => {
    while (!stop) {
      for (let k = 0; k < addrs.length && !stop; k++) {
        const i = (via + k) % addrs.length;
        const started = performance.now();
        if (await write(addrs[i]!, token, 1000)) {
          via = i;
          if (killedAt > 0 && started >= killedAt && firstAfter === 0) firstAfter = performance.now();
          break;
        }
      }
    }
  })();
  await Bun.sleep(200);
  killedAt = performance.now();
  await kill();
  await waitFor(() => firstAfter > 0, 15_000, "a write after the kill", 1);
  stop = true;
  await loop;
  return firstAfter - killedAt;
}

const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { medianMs: round(s[Math.floor(s.length / 2)]!, 1), maxMs: round(s[s.length - 1]!, 1), allMs: xs.map((x) => round(x, 1)) };
};

const masters: BenchMaster[] = [];
/** The median of each field over rounds, by writes/s. */
const medianRate = (xs: Rate[]): Rate => [...xs].sort((a, b) => a.writesPerSec - b.writesPerSec)[Math.floor(xs.length / 2)]!;
try {
  const solo = await BenchMaster.start({ bin, dataDir: join(root, "solo"), args: ["--secret-file", secretFile] });
  masters.push(solo);
  const token = solo.adminToken;
  const ports = await freePorts(3);
  const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p.http}`).join(",");
  for (let i = 0; i < 3; i++) {
    masters.push(await BenchMaster.start({ bin, dataDir: join(root, `m${i + 1}`), args: ["--secret-file", secretFile], ports: ports[i]!, env: { LAVA_NODE_ID: String(i + 1), LAVA_RAFT_PEERS: peers } }));
  }
  const cluster = masters.slice(1);
  const leader = await leaderOf(cluster);

  // Throughput: the single master and the cluster take turns, round after round, so that the
  // machine's drift (disk, other work) hits both alike; each figure is the median of its rounds.
  const per = flags.seconds / flags.rounds;
  const runs = { solo1: [] as Rate[], solo64: [] as Rate[], c1: [] as Rate[], c64: [] as Rate[] };
  for (let k = 0; k < flags.rounds; k++) {
    runs.solo1.push(await rate(solo.addr, token, 1, per));
    runs.c1.push(await rate(leader.addr, token, 1, per));
    runs.solo64.push(await rate(solo.addr, token, 64, per));
    runs.c64.push(await rate(leader.addr, token, 64, per));
  }
  const solo1 = medianRate(runs.solo1);
  const solo64 = medianRate(runs.solo64);
  const c1 = medianRate(runs.c1);
  const c64 = medianRate(runs.c64);

  const soloKill: number[] = [];
  for (let k = 0; k < flags.kills; k++) {
    soloKill.push(
      await timeToNextWrite([solo.addr], token, async () => {
        await solo.kill9();
        await solo.restart();
      }),
    );
  }
  await solo.stop();
  const clusterKill: number[] = [];
  for (let k = 0; k < flags.kills; k++) {
    const lead = await leaderOf(cluster);
    clusterKill.push(await timeToNextWrite(cluster.map((m) => m.addr), token, () => lead.kill9()));
    await lead.restart();
  }

  const r = (a: number, b: number) => round(a / b, 3);
  const kill = { single: summary(soloKill), cluster: summary(clusterKill) };
  const result = {
    binary: binaryVersion(bin),
    seconds: flags.seconds,
    rounds: flags.rounds,
    perRound: runs,
    single: { oneClient: solo1, clients64: solo64, killToNextWrite: kill.single },
    three: { oneClient: c1, clients64: c64, killToNextWrite: kill.cluster },
    ratios: {
      oneClientWritesPerSec: r(c1.writesPerSec, solo1.writesPerSec),
      oneClientP50: r(c1.p50Ms, solo1.p50Ms),
      oneClientP99: r(c1.p99Ms, solo1.p99Ms),
      clients64WritesPerSec: r(c64.writesPerSec, solo64.writesPerSec),
      clients64P99: r(c64.p99Ms, solo64.p99Ms),
      killToNextWriteMedian: r(kill.cluster.medianMs, kill.single.medianMs),
    },
    targets: {
      oneClientWritesPerSec: { target: 780, measured: c1.writesPerSec, met: c1.writesPerSec > 780 },
      oneClientP50Ms: { target: 1.1, measured: c1.p50Ms, met: c1.p50Ms < 1.1 },
      oneClientP99Ms: { target: 6.9, measured: c1.p99Ms, met: c1.p99Ms < 6.9 },
      clients64WritesPerSec: { target: 4400, measured: c64.writesPerSec, met: c64.writesPerSec > 4400 },
      clients64P99Ms: { target: 33, measured: c64.p99Ms, met: c64.p99Ms < 33 },
      killToNextWriteMs: { target: 1000, measured: kill.cluster.medianMs, met: kill.cluster.maxMs < 1000 },
      clients64VsSingle: { target: 0.5, measured: r(c64.writesPerSec, solo64.writesPerSec), met: c64.writesPerSec >= 0.5 * solo64.writesPerSec },
    },
  };
  const line = (name: string, one: Rate, many: Rate) =>
    `${name}: 1 client ${one.writesPerSec}/s p50 ${one.p50Ms} ms p99 ${one.p99Ms} ms; 64 clients ${many.writesPerSec}/s p50 ${many.p50Ms} ms p99 ${many.p99Ms} ms`;
  console.log(line("single master [baseline]", solo1, solo64));
  console.log(line("three masters", c1, c64));
  console.log(`ratios (three / single): ${JSON.stringify(result.ratios)}`);
  console.log(`kill → next acknowledged write: single ${JSON.stringify(kill.single)}; three ${JSON.stringify(kill.cluster)}`);
  for (const [k, t] of Object.entries(result.targets)) console.log(`  ${t.met ? "met " : "MISS"} ${k}: ${t.measured} (target ${t.target})`);
  console.log(`wrote ${writeResult("raft", result, flags.out)}`);
} finally {
  await Promise.all(masters.map((m) => m.stop()));
  rmSync(root, { recursive: true, force: true });
}
