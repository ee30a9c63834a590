/**
 * `bun bench/fleet.ts --failover`: a leader failover under a fleet (issue 14's
 * bar: every control channel back within 10 s of a leader failover on three
 * masters, with the admission limit still protecting the master).
 *
 * Three compiled masters on loopback (bench/lib/master.ts startBenchCluster:
 * log level info as operators run them; admission as configured by default:
 * wsAdmitPerSec 500, wsResumePerSec 2000; only the per-token and per-address
 * registration limits lifted, as 10,000 agents share one address and token
 * here). N simulated agents (fleet-sim.ts: the agent's connection machine per
 * host, `agent.master` listing all three) register with the leader and
 * report; once every host reports and the fleet has run for `settle`
 * seconds (a ping interval: what the masters tell agents in their pings is
 * then current), the leader is SIGKILLed. Measured from the kill:
 *
 * - the election (every live master agrees on a new leader, /_raft/health);
 * - when reports moved (each agent's report retargeted by the new leader's
 *   announce), and the new leader's hosts shown `unavail`, each second;
 * - when the new leader held every control channel: the simulator's count of
 *   channels registered with it, confirmed by the master's own `sessions`;
 * - the bar itself: when the new leader first showed every host `ok` (as
 *   `lava ctl load` does) with every channel registered with it (polled
 *   every 250 ms);
 * - announces the kernel dropped at the simulator's report sockets (10,000
 *   agents share a few sockets here, where each real agent has its own);
 * - upgrades answered 503 (admission), not_leader answers, /healthz asks;
 * - registrations per second at the new leader (its resume admission rate
 *   is the bound);
 * - the new leader's CPU from the kill until every channel was back (share
 *   of a core, and per channel), and the surviving follower's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bucketWindow, BUCKET_MS, FleetSim } from "./fleet-sim.ts";
import { clusterLeader, LIFT_REGISTRATION_LIMITS, masterConfigFile, raftHealth, startBenchCluster, binaryVersion, type BenchMaster } from "./master.ts";
import { readUdpDrops } from "../../src/master/kernel.ts";
import { cpuSecondsFine, renice } from "./proc.ts";
import { writeResult } from "./results.ts";
import { fmtInt, round } from "./stats.ts";
import { waitFor } from "../../tests/helpers/wait.ts";

export interface FailoverOptions {
  bin: string;
  hosts: number;
  seed: number;
  sockets: number;
  regRate: number;
  /** Seconds the fleet runs after every host reports, before the kill. */
  settleS: number;
  /** Give up waiting for the channels this long after the kill. */
  timeoutS: number;
  renice: boolean;
  smoke: boolean;
  out: string | null;
  /** YAML lines (indented two spaces) added under `master:` for every master. */
  masterConfig: string;
}

/** The bar: all channels back within this long of the failover. */
const TARGET_BACK_S = 10;

export async function runFailover(o: FailoverOptions): Promise<void> {
  const N = o.hosts;
  const root = mkdtempSync(join(tmpdir(), "lava-bench-failover-"));
  let masters: BenchMaster[] = [];
  let sim: FleetSim | null = null;
  try {
    console.log(`lava fleet bench, failover: ${fmtInt(N)} agents, three masters, leader SIGKILLed; Bun ${Bun.version}; ${binaryVersion(o.bin)}`);
    const simNice = o.renice && !o.smoke && renice(process.pid, -10) ? -10 : null;
    masters = await startBenchCluster(3, { bin: o.bin, root, args: ["--config", masterConfigFile(LIFT_REGISTRATION_LIMITS + o.masterConfig)] });
    const first = await clusterLeader(masters, 20_000);
    const firstIdx = masters.indexOf(first);
    // Every master signs with the cluster's secret: one admin token serves all (the agents join with it).
    const token = first.adminToken;
    const s = await FleetSim.create({
      hosts: N,
      seed: o.seed,
      sockets: o.sockets,
      masterHost: "127.0.0.1",
      httpPort: () => masters[0]!.httpPort,
      masters: masters.map((m) => ({ host: "127.0.0.1", port: m.httpPort })),
      token,
      policy: { minMs: 10_000, maxMs: 300_000 },
      handshakeTimeoutMs: 10_000,
    });
    sim = s;
    const regT0 = performance.now();
    s.startAll(o.regRate);
    await waitFor(() => s.registeredOn[firstIdx] === N, (N / o.regRate) * 2000 + 60_000, `every agent registered with the leader (m${firstIdx + 1})`, 50);
    console.log(`registered ${fmtInt(N)} agents with m${firstIdx + 1} in ${((performance.now() - regT0) / 1000).toFixed(1)} s (${s.counters.rejected503} × 503, ${s.counters.notLeader} × not_leader)`);
    await waitFor(async () => (await first.status()).hosts.unavail === 0, 30_000, "every host to report", 200);
    // The fleet runs steady for a while: no channel should move meanwhile (checked and reported).
    const termBefore = (await raftHealth(first.addr))?.term ?? null;
    const settle0 = { ...s.counters };
    const settleTicks: string[] = [];
    for (let k = 0; k < o.settleS; k++) {
      await Bun.sleep(1000);
      const h = await Promise.all(masters.map((m) => raftHealth(m.addr)));
      settleTicks.push(`${h.map((x) => (x ? `${x.state[0]}${x.term}` : "-")).join("/")} reg ${s.counters.registrations - settle0.registrations} drop ${s.counters.drops - settle0.drops} nl ${s.counters.notLeader - settle0.notLeader} rt ${s.counters.retargets - settle0.retargets}`);
    }
    // Where the channels are now: the leader may have changed meanwhile (then the whole fleet moved, and is counted above).
    const leader = await clusterLeader(masters, 20_000);
    const leaderIdx = masters.indexOf(leader);
    await waitFor(() => s.registeredOn[leaderIdx] === N, 60_000, `every agent registered with the leader (m${leaderIdx + 1})`, 50);
    const settled = { seconds: o.settleS, leaderBefore: firstIdx + 1, leaderAfter: leaderIdx + 1, termBefore, termAfter: (await raftHealth(leader.addr))?.term ?? null, drops: s.counters.drops - settle0.drops, registrations: s.counters.registrations - settle0.registrations, notLeader: s.counters.notLeader - settle0.notLeader, retargets: s.counters.retargets - settle0.retargets, rejected503: s.counters.rejected503 - settle0.rejected503 };
    console.log(`settled ${o.settleS} s: leader m${settled.leaderBefore} → m${settled.leaderAfter}, term ${settled.termBefore} → ${settled.termAfter}; channels dropped ${settled.drops}, registrations ${settled.registrations}, not_leader ${settled.notLeader}, reports moved ${settled.retargets}, 503 × ${settled.rejected503}`);
    if (settled.drops > 0) console.log(`  per second (state/term of m1/m2/m3, then counts since the settle began): ${settleTicks.join("; ")}`);
    if (s.errors.length) throw new Error(`simulator error(s):\n${s.errors.join("\n")}`);
    const spreadBefore = s.followSpreadMs;

    // ---- the kill
    const others = masters.filter((m) => m !== leader);
    const cpu0 = others.map((m) => cpuSecondsFine(m.pid));
    const c0 = { ...s.counters };
    const simDrops = () => s.reportPorts.reduce((a, p) => a + (readUdpDrops(p)?.socketDrops ?? 0), 0);
    const simDrops0 = simDrops();
    s.leaderKilled();
    const tKill = performance.now();
    await leader.kill9();
    const killedMs = performance.now() - tKill;
    const next = await clusterLeader(masters, 20_000, 5);
    const electedMs = performance.now() - tKill;
    const nextIdx = masters.indexOf(next);
    const follower = others.find((m) => m !== next)!;
    console.log(`killed m${leaderIdx + 1} (gone in ${killedMs.toFixed(0)} ms); m${nextIdx + 1} elected ${(electedMs / 1000).toFixed(2)} s after the kill`);

    // Once a second: what the new leader says, until every channel is back (or the time is up).
    const timeline: { t: number; sessions: number | null; ok: number | null; unavail: number | null; simRegistered: number; cpuS: number }[] = [];
    let masterAllAt = 0;
    let allOkAt = 0;
    const deadline = tKill + o.timeoutS * 1000;
    let nextTick = tKill + 1000;
    let nextPoll = tKill + 250;
    while (performance.now() < deadline && !(s.fullAt[nextIdx]! > 0 && masterAllAt > 0 && allOkAt > 0)) {
      const now = performance.now();
      if (now >= nextPoll || now >= nextTick) {
        nextPoll = now + 250;
        const st = await next.status().catch(() => null);
        const at = performance.now();
        if (st && st.sessions === N && masterAllAt === 0) masterAllAt = at;
        if (st && st.sessions === N && st.hosts.ok === N && allOkAt === 0) allOkAt = at;
        if (now >= nextTick) {
          nextTick += 1000;
          timeline.push({ t: round((at - tKill) / 1000, 2), sessions: st?.sessions ?? null, ok: st?.hosts.ok ?? null, unavail: st?.hosts.unavail ?? null, simRegistered: s.registeredOn[nextIdx]!, cpuS: round(cpuSecondsFine(next.pid) - cpu0[others.indexOf(next)]!, 3) });
        }
      }
      await Bun.sleep(20);
    }
    const simKernelDrops = simDrops() - simDrops0;
    const backAt = s.fullAt[nextIdx]!;
    const endAt = backAt > 0 ? backAt : performance.now();
    const cpu1 = others.map((m) => cpuSecondsFine(m.pid));
    const c1 = { ...s.counters };
    if (s.errors.length) throw new Error(`simulator error(s):\n${s.errors.join("\n")}`);

    // ---- figures
    const moveS = (endAt - tKill) / 1000;
    const leaderCpuS = cpu1[others.indexOf(next)]! - cpu0[others.indexOf(next)]!;
    const followerCpuS = cpu1[others.indexOf(follower)]! - cpu0[others.indexOf(follower)]!;
    const perSec = (counts: number[]) => {
      const w = bucketWindow(counts, s.epochAbs, s.abs(tKill), s.abs(endAt + 1000));
      const out: number[] = [];
      for (let k = 0; k < w.length; k += 1000 / BUCKET_MS) out.push(w.slice(k, k + 1000 / BUCKET_MS).reduce((a, b) => a + b, 0));
      return out;
    };
    const firstLast = (counts: number[]) => {
      const w = bucketWindow(counts, s.epochAbs, s.abs(tKill), s.abs(endAt + 1000));
      const first = w.findIndex((c) => c > 0);
      let last = -1;
      for (let k = w.length - 1; k >= 0; k--) if (w[k]! > 0) { last = k; break; }
      return { firstS: first < 0 ? null : round(((first + 1) * BUCKET_MS) / 1000, 1), lastS: last < 0 ? null : round(((last + 1) * BUCKET_MS) / 1000, 1) };
    };
    const delta = (k: keyof typeof c0) => c1[k] - c0[k];
    const back = backAt > 0;
    const allBackS = back ? round((backAt - tKill) / 1000, 2) : null;
    const allOkS = allOkAt ? round((allOkAt - tKill) / 1000, 2) : null;
    const met = back && allOkS !== null && Math.max(allBackS!, allOkS) <= TARGET_BACK_S;
    const regsPerSec = perSec(s.registrations);
    const moved = { ...firstLast(s.retargets), perSecond: perSec(s.retargets) };
    const result = {
      smoke: o.smoke,
      mode: "failover",
      lava: binaryVersion(o.bin),
      hosts: N,
      seed: o.seed,
      simulatorNice: simNice,
      masterConfig: o.masterConfig || null,
      settled,
      followSpreadMsNamed: spreadBefore,
      killedNode: leaderIdx + 1,
      newLeaderNode: nextIdx + 1,
      electedAfterKillMs: Math.round(electedMs),
      reportsMovedAfterKill: moved,
      allBackAfterKillS: allBackS,
      allBackAfterElectionS: back ? round((backAt - tKill - electedMs) / 1000, 2) : null,
      masterSessionsAllAfterKillS: masterAllAt ? round((masterAllAt - tKill) / 1000, 2) : null,
      allOkAfterKillS: allOkS,
      simulatorKernelDrops: simKernelDrops,
      registeredWithNewLeaderAtEnd: s.registeredOn[nextIdx],
      upgradesAnswered503: delta("rejected503"),
      notLeaderAnswers: delta("notLeader"),
      admissionAsks: delta("admissionAsks"),
      resumed: delta("resumed"),
      registrations: delta("registrations"),
      connectFailures: delta("connectFailures"),
      registrationsPerSecondAfterKill: regsPerSec,
      registrationsPerSecondMax: Math.max(0, ...regsPerSec),
      newLeaderCpu: { seconds: round(leaderCpuS, 3), shareOfCore: round(leaderCpuS / moveS, 4), msPerChannel: back ? round((leaderCpuS * 1000) / N, 3) : null },
      followerCpu: { seconds: round(followerCpuS, 3), shareOfCore: round(followerCpuS / moveS, 4) },
      hostsUnavailPerSecond: timeline.map((t) => t.unavail),
      target: o.smoke ? null : { allBackMaxS: TARGET_BACK_S, met },
      timeline,
      simulator: { ...c1 },
    };
    console.log(`reports moved to m${nextIdx + 1}: first ${moved.firstS ?? "—"} s, last ${moved.lastS ?? "—"} s after the kill (its announce round; the kernel dropped ${simKernelDrops} datagrams at the simulator's ${s.reportPorts.length} shared report sockets); hosts unavail on it, per second: ${result.hostsUnavailPerSecond.join(" ")}`);
    console.log(`control channels: all ${fmtInt(N)} with m${nextIdx + 1} ${back ? `${allBackS} s after the kill (${result.allBackAfterElectionS} s after the election)` : `NOT within ${o.timeoutS} s (${fmtInt(s.registeredOn[nextIdx]!)} of ${fmtInt(N)})`}; the master counted them all at ${result.masterSessionsAllAfterKillS ?? "—"} s, every host ok and registered at ${allOkS ?? "—"} s; target ≤ ${TARGET_BACK_S} s: ${o.smoke ? "not judged in a smoke run" : met ? "met" : "NOT met"}`);
    console.log(`  follow spread the masters named: ${spreadBefore === null ? "none (agents spread over reconnectMin)" : `${spreadBefore} ms`}; resumed ${fmtInt(result.resumed)}, 503 × ${fmtInt(result.upgradesAnswered503)}, not_leader × ${result.notLeaderAnswers}, /healthz asks ${result.admissionAsks}`);
    console.log(`  registrations per second at the new leader: ${regsPerSec.join(" ")} (max ${result.registrationsPerSecondMax}; its resume admission: wsResumePerSec)`);
    console.log(`  new leader CPU from the kill to all back: ${leaderCpuS.toFixed(2)} s = ${(result.newLeaderCpu.shareOfCore * 100).toFixed(1)} % of a core${back ? `, ${result.newLeaderCpu.msPerChannel} ms per channel` : ""}; follower ${(result.followerCpu.shareOfCore * 100).toFixed(1)} %`);
    console.log(`wrote ${writeResult(o.smoke ? "fleet-failover-smoke" : "fleet-failover", result, o.out)}`);
  } finally {
    await sim?.stop();
    await Promise.all(masters.map((m) => m.dispose()));
    rmSync(root, { recursive: true, force: true });
  }
}
