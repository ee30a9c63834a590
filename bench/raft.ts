#!/usr/bin/env bun
/**
 * Replicated-master benchmark (docs/performance.md, "Replicated masters").
 * In one run, side by side, rounds interleaved so that drift in the
 * machine's speed hits every system alike:
 *
 *   - a single compiled master (the baseline lava's own figures are ratios to);
 *   - three compiled masters on loopback;
 *   - a 3-member etcd on loopback (Debian's etcd-server), when installed:
 *     the reference the three masters are judged against.
 *
 * Figures: committed writes/s and latency p50/p99 with 1 client (each
 * write waits for the previous) and with 64 concurrent clients; the time
 * from SIGKILL of the leader to the next acknowledged write (a single
 * master: SIGKILL, restart, first write). Each figure is the median of its
 * rounds (of its kills), and targets are judged on medians.
 *
 * The same kind of client for all: HTTP/1.1 JSON POSTs with keep-alive. A
 * lava write is `POST /api/v1/tokens` (a token.create through the log: on
 * three masters committed on a majority, fsynced on each, applied
 * everywhere), sent to the leader with an `x-lava-request-id` as `lava
 * ctl` sends it; an etcd write is `POST /v3/kv/put` through its JSON
 * gateway to its leader (committed on a majority, fsynced).
 *
 * Targets: the three masters at least match etcd measured in the same run
 * (writes/s ≥, latencies ≤, kill-to-write ≤), and reach ≥ 0.5 × the single
 * master at 64 clients. Without etcd the targets are the historical
 * figures of etcd 3.4 on this machine (HISTORICAL_ETCD), and the output
 * says so.
 *
 *   bun run build && bun bench/raft.ts [--seconds 9] [--rounds 3] [--kills 5] [--etcd auto|on|off]
 *   bun bench/raft.ts --vs /tmp/lava-main   the same binary's figures beside another build's, rounds interleaved
 *   bun bench/raft.ts --smoke          a few seconds, nothing judged (tests/bench/raft.test.ts runs it in CI)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags } from "./lib/args.ts";
import { EtcdCluster, etcdBinary, etcdPut, etcdVersion } from "./lib/etcd.ts";
import { BenchMaster, binaryVersion, clusterLeader, lavaBinary } from "./lib/master.ts";
import { writeResult } from "./lib/results.ts";
import { percentile, round } from "./lib/stats.ts";
import { freePorts } from "../tests/helpers/masters.ts";
import { waitFor } from "../tests/helpers/wait.ts";

/**
 * A 3-member etcd 3.4 through its JSON gateway, measured on this machine
 * (2 cores, AMD EPYC) when lava's replication was first benchmarked: the
 * targets when etcd is not installed.
 */
const HISTORICAL_ETCD = { measured: "etcd 3.4 on this machine, 2026-11", oneClientWritesPerSec: 780, oneClientP50Ms: 1.1, oneClientP99Ms: 6.9, clients64WritesPerSec: 4400, clients64P99Ms: 33, killToNextWriteMs: 1000 };

const flags = parseFlags("bun bench/raft.ts", process.argv.slice(2), {
  seconds: { kind: "number", default: 9, min: 0.2, help: "seconds per throughput figure, split over the rounds" },
  rounds: { kind: "number", default: 3, min: 1, integer: true, help: "rounds the systems take turns in" },
  kills: { kind: "number", default: 5, min: 1, integer: true, help: "leader kills (and single-master kills) to time" },
  etcd: { kind: "string", default: "auto", help: "measure a 3-member etcd beside lava: auto (if installed), on, off" },
  "request-ids": { kind: "boolean", default: true, help: "send lava's writes with x-lava-request-id, as lava ctl does" },
  smoke: { kind: "boolean", default: false, help: "a few seconds, no targets judged, no etcd unless --etcd on, results only with --out" },
  bin: { kind: "string", default: null, help: "lava binary (default dist/lava)" },
  vs: { kind: "string", default: null, help: "another lava binary (e.g. main's) measured in the same rounds: ratios of this one to it (a regression check)" },
  out: { kind: "string", default: null, help: "result file (default bench/results/raft.json; none in --smoke)" },
});
if (!["auto", "on", "off"].includes(flags.etcd!)) {
  console.error(`bun bench/raft.ts: --etcd must be auto, on or off, got ${flags.etcd}`);
  process.exit(2);
}
const smoke = flags.smoke;
const seconds = smoke ? 0.6 : flags.seconds;
const rounds = smoke ? 1 : flags.rounds;
const kills = smoke ? 1 : flags.kills;
const etcdBin = flags.etcd === "off" || (smoke && flags.etcd !== "on") ? null : etcdBinary();
if (flags.etcd === "on" && !etcdBin) {
  console.error("bun bench/raft.ts: --etcd on, but no etcd on PATH (apt-get install etcd-server)");
  process.exit(2);
}

const bin = lavaBinary(flags.bin);
const root = mkdtempSync(join(tmpdir(), "lava-bench-raft-"));
const secretFile = join(root, "secret");
writeFileSync(secretFile, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") + "\n", { mode: 0o600 });

/** A system under test: where its leader is, and one write to an address. */
interface System {
  name: string;
  write(addr: string, timeoutMs?: number): Promise<boolean>;
}

let seq = 0;
function lavaSystem(name: string, token: string): System {
  return {
    name,
    async write(addr, timeoutMs = 5000) {
      try {
        const res = await fetch(`http://${addr}/api/v1/tokens`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, ...(flags["request-ids"] ? { "x-lava-request-id": crypto.randomUUID() } : {}) },
          body: JSON.stringify({ role: "read", subject: `bench-${seq++}` }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer();
        return res.status === 201;
      } catch {
        return false;
      }
    },
  };
}
const VALUE = JSON.stringify({ role: "read", subject: "bench-000000", note: "a value the size of lava's token record" });
const etcdSystem: System = { name: "etcd", write: (addr, timeoutMs) => etcdPut(addr, `bench/${seq++}`, VALUE, timeoutMs) };

interface Rate {
  clients: number;
  writesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

async function rate(sys: System, addr: string, clients: number, secs: number): Promise<Rate> {
  // Warm up the connections and the server's caches.
  await Promise.all(Array.from({ length: clients }, () => sys.write(addr)));
  const lat: number[] = [];
  let failed = 0;
  const end = performance.now() + secs * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        if (await sys.write(addr)) lat.push(performance.now() - s);
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { clients, writesPerSec: round(lat.length / elapsed, 1), p50Ms: round(percentile(lat, 50), 3), p99Ms: round(percentile(lat, 99), 3), failed };
}

/**
 * A writer that keeps one write in flight, trying the members in turn.
 * Resolves the time from the kill to the first write acknowledged after it.
 */
async function timeToNextWrite(sys: System, addrs: string[], kill: () => Promise<void>): Promise<number> {
  let stop = false;
  let firstAfter = 0;
  let killedAt = 0;
  let via = 0;
  const loop = (async () => {
    while (!stop) {
      for (let k = 0; k < addrs.length && !stop; k++) {
        const i = (via + k) % addrs.length;
        const started = performance.now();
        if (await sys.write(addrs[i]!, 1000)) {
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
/** The round whose writes/s is the median (its latencies come with it). */
const medianRate = (xs: Rate[]): Rate => [...xs].sort((a, b) => a.writesPerSec - b.writesPerSec)[Math.floor(xs.length / 2)]!;

/** One lava build under test: a single master and three masters. */
interface Variant {
  label: string;
  bin: string;
  solo: BenchMaster;
  cluster: BenchMaster[];
  single: System;
  three: System;
  runs: { solo1: Rate[]; c1: Rate[]; solo64: Rate[]; c64: Rate[] };
  soloKill: number[];
  clusterKill: number[];
}

const masters: BenchMaster[] = [];
let etcd: EtcdCluster | null = null;

async function startVariant(label: string, vbin: string): Promise<Variant> {
  const solo = await BenchMaster.start({ bin: vbin, dataDir: join(root, `${label}-solo`), args: ["--secret-file", secretFile] });
  masters.push(solo);
  const ports = await freePorts(3);
  const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p.http}`).join(",");
  const cluster: BenchMaster[] = [];
  for (let i = 0; i < 3; i++) {
    const m = await BenchMaster.start({ bin: vbin, dataDir: join(root, `${label}-m${i + 1}`), args: ["--secret-file", secretFile], ports: ports[i]!, env: { LAVA_NODE_ID: String(i + 1), LAVA_RAFT_PEERS: peers } });
    masters.push(m);
    cluster.push(m);
  }
  // Every master signs tokens with the same secret: one admin token serves all.
  const token = solo.adminToken;
  return { label, bin: vbin, solo, cluster, single: lavaSystem(`${label} single master`, token), three: lavaSystem(`${label} three masters`, token), runs: { solo1: [], c1: [], solo64: [], c64: [] }, soloKill: [], clusterKill: [] };
}

try {
  const variants = [await startVariant("this", bin), ...(flags.vs ? [await startVariant("vs", lavaBinary(flags.vs))] : [])];
  if (etcdBin) {
    const ep = await freePorts(6);
    etcd = await EtcdCluster.start(etcdBin, join(root, "etcd"), [0, 1, 2].map((i) => ({ client: ep[i]!.http, peer: ep[i + 3]!.http })));
  }
  const etcdRuns = { e1: [] as Rate[], e64: [] as Rate[] };

  // Throughput: every system takes its turn, round after round; each figure is the median of its rounds.
  const per = seconds / rounds;
  for (let k = 0; k < rounds; k++) {
    for (const clients of [1, 64]) {
      for (const v of variants) {
        const leader = await clusterLeader(v.cluster);
        (clients === 1 ? v.runs.solo1 : v.runs.solo64).push(await rate(v.single, v.solo.addr, clients, per));
        (clients === 1 ? v.runs.c1 : v.runs.c64).push(await rate(v.three, leader.addr, clients, per));
      }
      if (etcd) (clients === 1 ? etcdRuns.e1 : etcdRuns.e64).push(await rate(etcdSystem, (await etcd.leader()).addr, clients, per));
    }
  }

  // Kills, taking turns too: a single master (kill, restart), the three masters' leader, etcd's leader.
  const etcdKill: number[] = [];
  for (let k = 0; k < kills; k++) {
    for (const v of variants) {
      v.soloKill.push(
        await timeToNextWrite(v.single, [v.solo.addr], async () => {
          await v.solo.kill9();
          await v.solo.restart();
        }),
      );
      const lead = await clusterLeader(v.cluster);
      v.clusterKill.push(await timeToNextWrite(v.three, v.cluster.map((m) => m.addr), () => lead.kill9()));
      await lead.restart();
    }
    if (etcd) {
      const el = await etcd.leader();
      etcdKill.push(await timeToNextWrite(etcdSystem, etcd.members.map((m) => m.addr), () => el.kill9()));
      el.start();
      await etcd.leader(15_000);
    }
  }

  const r = (a: number, b: number) => round(a / b, 3);
  const figures = (v: Variant) => ({
    binary: binaryVersion(v.bin),
    single: { oneClient: medianRate(v.runs.solo1), clients64: medianRate(v.runs.solo64), killToNextWrite: summary(v.soloKill) },
    three: { oneClient: medianRate(v.runs.c1), clients64: medianRate(v.runs.c64), killToNextWrite: summary(v.clusterKill) },
    perRound: v.runs,
  });
  const me = figures(variants[0]!);
  const vs = variants[1] ? figures(variants[1]) : null;
  const { oneClient: solo1, clients64: solo64 } = me.single;
  const { oneClient: c1, clients64: c64 } = me.three;
  const e1 = etcd ? medianRate(etcdRuns.e1) : null;
  const e64 = etcd ? medianRate(etcdRuns.e64) : null;
  const etcdKillSummary = etcd ? summary(etcdKill) : null;
  // What the three masters are judged against: etcd in this run, else its historical figures.
  const ref =
    e1 && e64 && etcdKillSummary
      ? { source: `${etcdVersion(etcdBin!)}, 3 members, measured in this run`, oneClientWritesPerSec: e1.writesPerSec, oneClientP50Ms: e1.p50Ms, oneClientP99Ms: e1.p99Ms, clients64WritesPerSec: e64.writesPerSec, clients64P99Ms: e64.p99Ms, killToNextWriteMs: etcdKillSummary.medianMs }
      : { source: `historical: ${HISTORICAL_ETCD.measured} (etcd not installed here; apt-get install etcd-server to measure it beside lava)`, ...HISTORICAL_ETCD };
  const kill3 = me.three.killToNextWrite.medianMs;
  const targets = {
    oneClientWritesPerSec: { target: ref.oneClientWritesPerSec, measured: c1.writesPerSec, met: c1.writesPerSec >= ref.oneClientWritesPerSec },
    oneClientP50Ms: { target: ref.oneClientP50Ms, measured: c1.p50Ms, met: c1.p50Ms <= ref.oneClientP50Ms },
    oneClientP99Ms: { target: ref.oneClientP99Ms, measured: c1.p99Ms, met: c1.p99Ms <= ref.oneClientP99Ms },
    clients64WritesPerSec: { target: ref.clients64WritesPerSec, measured: c64.writesPerSec, met: c64.writesPerSec >= ref.clients64WritesPerSec },
    clients64P99Ms: { target: ref.clients64P99Ms, measured: c64.p99Ms, met: c64.p99Ms <= ref.clients64P99Ms },
    killToNextWriteMs: { target: ref.killToNextWriteMs, measured: kill3, met: kill3 <= ref.killToNextWriteMs },
    clients64VsSingle: { target: 0.5, measured: r(c64.writesPerSec, solo64.writesPerSec), met: c64.writesPerSec >= 0.5 * solo64.writesPerSec },
  };
  const result = {
    binary: me.binary,
    smoke,
    seconds,
    rounds,
    kills,
    requestIds: flags["request-ids"],
    perRound: me.perRound,
    single: me.single,
    three: me.three,
    ...(etcd ? { etcd: { version: etcdVersion(etcdBin!), oneClient: e1, clients64: e64, killToNextWrite: etcdKillSummary, perRound: etcdRuns } } : {}),
    ratios: {
      oneClientWritesPerSec: r(c1.writesPerSec, solo1.writesPerSec),
      oneClientP50: r(c1.p50Ms, solo1.p50Ms),
      oneClientP99: r(c1.p99Ms, solo1.p99Ms),
      clients64WritesPerSec: r(c64.writesPerSec, solo64.writesPerSec),
      clients64P99: r(c64.p99Ms, solo64.p99Ms),
      killToNextWriteMedian: r(kill3, me.single.killToNextWrite.medianMs),
      ...(e1 && e64 ? { vsEtcdOneClientWritesPerSec: r(c1.writesPerSec, e1.writesPerSec), vsEtcdClients64WritesPerSec: r(c64.writesPerSec, e64.writesPerSec) } : {}),
    },
    ...(vs
      ? {
          vs: {
            ...vs,
            // This build over the other one, same rounds: above 1 is faster (writes/s), below 1 is faster (latency).
            ratios: {
              singleOneClientWritesPerSec: r(solo1.writesPerSec, vs.single.oneClient.writesPerSec),
              singleClients64WritesPerSec: r(solo64.writesPerSec, vs.single.clients64.writesPerSec),
              threeOneClientWritesPerSec: r(c1.writesPerSec, vs.three.oneClient.writesPerSec),
              threeOneClientP50: r(c1.p50Ms, vs.three.oneClient.p50Ms),
              threeClients64WritesPerSec: r(c64.writesPerSec, vs.three.clients64.writesPerSec),
              threeClients64P99: r(c64.p99Ms, vs.three.clients64.p99Ms),
              threeKillToNextWriteMedian: r(kill3, vs.three.killToNextWrite.medianMs),
            },
          },
        }
      : {}),
    reference: ref.source,
    ...(smoke ? {} : { targets }),
  };
  const line = (name: string, one: Rate, many: Rate) =>
    `${name}: 1 client ${one.writesPerSec}/s p50 ${one.p50Ms} ms p99 ${one.p99Ms} ms; 64 clients ${many.writesPerSec}/s p50 ${many.p50Ms} ms p99 ${many.p99Ms} ms`;
  console.log(line("single master [baseline]", solo1, solo64));
  console.log(line("three masters", c1, c64));
  if (e1 && e64) console.log(line(`etcd (${etcdVersion(etcdBin!)}, 3 members)`, e1, e64));
  if (vs) {
    console.log(line(`--vs single master (${vs.binary})`, vs.single.oneClient, vs.single.clients64));
    console.log(line(`--vs three masters (${vs.binary})`, vs.three.oneClient, vs.three.clients64));
    console.log(`this build / --vs: ${JSON.stringify(result.vs!.ratios)}`);
  }
  console.log(`ratios: ${JSON.stringify(result.ratios)}`);
  console.log(`kill → next acknowledged write: ${JSON.stringify({ single: me.single.killToNextWrite, three: me.three.killToNextWrite, ...(etcdKillSummary ? { etcd: etcdKillSummary } : {}), ...(vs ? { vsThree: vs.three.killToNextWrite } : {}) })}`);
  if (smoke) console.log("smoke run: nothing judged");
  else {
    console.log(`targets (medians), against ${ref.source}:`);
    for (const [k, t] of Object.entries(targets)) console.log(`  ${t.met ? "met " : "MISS"} ${k}: ${t.measured} (target ${t.target})`);
  }
  if (!smoke || flags.out) console.log(`wrote ${writeResult("raft", result, flags.out)}`);
} finally {
  await Promise.all(masters.map((m) => m.stop()));
  await etcd?.stop();
  rmSync(root, { recursive: true, force: true });
}
