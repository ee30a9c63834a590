#!/usr/bin/env bun
/**
 * Ingest benchmark (issue bar): how many valid AUTH reports per second the
 * compiled master accepts, as a ratio to a bare Bun UDP receiver measured in
 * the same run with the same datagrams.
 *
 *   bun bench/ingest.ts [--hosts 1000] [--seconds 5] [--rounds 5] [--mode auto|precompute|sign] [--out FILE]
 *
 * 1. Start `dist/lava master` (loopback, port 0, temp data dir) and register
 *    N hosts over /ws with its admin token (bench/lib/ws.ts); the channels
 *    stay open for the run, and the hosts' announces go to a local socket.
 * 2. A sender process (bench/lib/udp-sender.ts, on the other core) holds the
 *    N session keys and produces the datagram sequence (host j mod N, seq
 *    rising by one per report per host), either signed ahead ("precompute")
 *    or per batch ("sign"); "auto" measures both against the bare receiver
 *    for 1 s and keeps the faster. It sends sendMany batches on a connected
 *    socket, as fast as it can, for S / rounds seconds per blast.
 * 3. Each round blasts the same datagrams at (a) a bare receiver process
 *    (bench/lib/udp-sink.ts, counting datagrams) and (b) the master (its
 *    `accepted` and per-reason `dropped` counters from GET /api/v1/status,
 *    before and after), alternating which goes first; later rounds continue
 *    the seqs, so the master never sees a replay.
 * 4. Where the master's time per datagram goes (--no-profile to skip): its
 *    ingest modules timed step by step in this process
 *    (bench/lib/ingest-profile.ts), and decode and tag check timed on the
 *    Buffers a Bun UDP socket really hands out (bench/lib/udp-sink.ts
 *    "profile"), where reading `buf.buffer` is not free.
 *
 * Figures: sent/s, received/s (bare) and accepted/s (master) summed over the
 * rounds, ratio master/bare (target ≥ 0.8), master drops by reason (target:
 * all zero), kernel socket drops (what the socket never delivered), CPU per
 * datagram of each receiver. JSON in bench/results/ingest.json.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { udp } from "bun";
import { parseFlags } from "./lib/args.ts";
import { LineChild } from "./lib/child.ts";
import { profileIngest } from "./lib/ingest-profile.ts";
import { BenchMaster, binaryIsStale, binaryVersion, lavaBinary, LIFT_REGISTRATION_LIMITS, masterConfigFile, type StatusBody } from "./lib/master.ts";
import { cpuSeconds, renice, sysctl } from "./lib/proc.ts";
import { registerAll, type AgentSession } from "./lib/register.ts";
import { writeResult } from "./lib/results.ts";
import { fmtInt, percentile, round } from "./lib/stats.ts";
import type { BlastResult, SenderMode, SenderPlan } from "./lib/udp-sender.ts";

const flags = parseFlags("bun bench/ingest.ts", process.argv.slice(2), {
  hosts: { kind: "number", default: 1000, min: 1, integer: true, help: "distinct registered hosts the reports come from" },
  seconds: { kind: "number", default: 5, min: 0.1, help: "blast time per receiver, split over the rounds" },
  rounds: { kind: "number", default: 5, min: 1, integer: true, help: "rounds of (bare, master) blasts, order alternating, so drift in the machine's speed hits both alike" },
  mode: { kind: "string", default: "auto", help: "sender: precompute | sign | auto (measure both, keep the faster)" },
  batch: { kind: "number", default: 64, min: 1, integer: true, help: "datagrams per sendMany call" },
  "reg-rate": { kind: "number", default: 450, min: 1, help: "WebSocket registrations started per second (the master admits 500/s)" },
  profile: { kind: "boolean", default: true, help: "in-process breakdown of the master's per-datagram work" },
  renice: { kind: "boolean", default: true, help: "run the sender and both receivers at nice -10, so other work on the machine does not decide the ratio (needs root)" },
  lava: { kind: "string", default: null, help: "lava binary (default dist/lava; built if missing)" },
  "cpu-prof": { kind: "string", default: null, help: "run the master from source under `bun --cpu-prof-md`, profile into this dir" },
  out: { kind: "string", default: null, help: "JSON result file (default bench/results/ingest.json)" },
});
if (!["auto", "precompute", "sign"].includes(flags.mode ?? "")) {
  console.error("bun bench/ingest.ts: --mode must be auto, precompute or sign");
  process.exit(2);
}

/** Priority of the sender and the receivers with --renice. */
const NICE = -10;

/** Datagram index where round r starts: 2^24 seqs per host per round, so rounds never overlap. */
const roundStart = (r: number, hosts: number) => r * hosts * 2 ** 24;

interface SinkCount {
  count: number;
  socketDrops: number | null;
}

interface Blast {
  sent: number;
  sentPerSec: number;
  elapsedMs: number;
  received: number;
  kernelDrops: number | null;
  receiverCpuS: number;
  senderCpuS: number;
  exhausted: boolean;
  drops?: Record<string, number>;
}

/** Polls `read()` until its value stops changing for `quietMs` (the receiver drained its socket), at most `maxMs`. */
async function settle<T>(read: () => Promise<T>, key: (t: T) => number, quietMs = 300, maxMs = 5000): Promise<T> {
  const t0 = performance.now();
  let last = await read();
  let lastChange = performance.now();
  for (;;) {
    await Bun.sleep(50);
    const cur = await read();
    if (key(cur) !== key(last)) lastChange = performance.now();
    last = cur;
    if (performance.now() - lastChange >= quietMs || performance.now() - t0 > maxMs) return last;
  }
}

const bin = lavaBinary(flags.lava);
const version = binaryVersion(bin);
const stale = binaryIsStale(bin);
const HERE = import.meta.dir;
const work = mkdtempSync(join(tmpdir(), "lava-bench-ingest-"));
let master: BenchMaster | null = null;
let sender: LineChild | null = null;
let sink: LineChild | null = null;
let sessions: AgentSession[] = [];
let announceSink: udp.Socket<"buffer"> | null = null;

try {
  console.log(`lava ingest bench: ${flags.hosts} hosts, ${flags.seconds} s per receiver in ${flags.rounds} round(s); Bun ${Bun.version}; ${version}${stale ? " (binary older than src/)" : ""}`);
  const cpuProf = flags["cpu-prof"];
  master = await BenchMaster.start({
    // 10,000 simulated agents register from one address with one token (docs/security.md: registration limits).
    args: ["--config", masterConfigFile(LIFT_REGISTRATION_LIMITS)],
    bin: cpuProf ? [process.execPath, "--cpu-prof-md", `--cpu-prof-dir=${cpuProf}`, join(HERE, "..", "src", "main.ts")] : bin,
  });
  if (cpuProf) console.log(`master runs from source under the CPU profiler; profile in ${cpuProf} after the run`);
  announceSink = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const agents = Array.from({ length: flags.hosts }, (_, i) => ({ hostname: `bench-${String(i).padStart(6, "0")}`, reportPort: announceSink!.port }));
  const reg = await registerAll({
    host: "127.0.0.1",
    port: master.httpPort,
    token: master.adminToken,
    agents,
    ratePerSec: flags["reg-rate"],
    timeoutMs: 60_000 + (flags.hosts / flags["reg-rate"]) * 3000,
  });
  sessions = reg.sessions;
  console.log(`registered ${fmtInt(flags.hosts)} hosts in ${(reg.elapsedMs / 1000).toFixed(1)} s (${reg.rejected503} × 503 honoured)`);

  const plan: SenderPlan = { hosts: sessions.map((s) => ({ hostId: s.hostId, key: Buffer.from(s.key).toString("base64") })), batch: flags.batch };
  const planFile = join(work, "plan.json");
  writeFileSync(planFile, JSON.stringify(plan));
  sink = LineChild.spawn([process.execPath, join(HERE, "lib", "udp-sink.ts")]);
  const { port: sinkPort } = await sink.next<{ port: number }>();
  sender = LineChild.spawn([process.execPath, join(HERE, "lib", "udp-sender.ts"), planFile]);
  await sender.next(30_000);
  // Both receivers and the sender at the same raised priority: the two receivers still
  // compete on equal terms, but a simulator or test run beside the benchmark does not
  // take their cores away at random moments (which made single rounds range 0.1–1.8).
  const niced = flags.renice && [master.pid, sink.pid, sender.pid].every((pid) => renice(pid, NICE));
  if (flags.renice && !niced) console.log("could not raise the priority of the sender and receivers (not root?): other load on the machine will add noise");
  const snd = sender;
  const sinkProc = sink;
  const m = master;

  const ask = async <T>(line: string, timeoutMs?: number): Promise<T> => {
    const r = await snd.request<T & { error?: string }>(line, timeoutMs);
    if (r.error) throw new Error(`sender: ${r.error}`);
    return r;
  };
  const sinkCount = () => sinkProc.request<SinkCount>("count");

  // Sender mode: both measured for 1 s against the bare receiver (calibration starts are
  // far past any round's, and the bare receiver does not check seqs), unless fixed by --mode.
  const calStart = roundStart(flags.rounds + 1, flags.hosts);
  let mode: SenderMode = flags.mode === "sign" ? "sign" : "precompute";
  const calibration: Record<string, number> = {};
  if (flags.mode === "auto") {
    const s = await ask<BlastResult>(`blast ${sinkPort} sign ${calStart} 1`);
    calibration.signPerSec = Math.round(s.sentPerSec);
    const prep = await ask<{ ms: number }>(`prepare ${Math.ceil(s.sentPerSec * 2)} ${calStart}`, 120_000);
    const p = await ask<BlastResult>(`blast ${sinkPort} precompute ${calStart} 1`);
    calibration.precomputePerSec = Math.round(p.sentPerSec);
    calibration.precomputeSignMsFor2s = prep.ms;
    mode = p.sentPerSec > s.sentPerSec * 1.02 ? "precompute" : "sign";
    console.log(`sender, 1 s each: sign as it sends ${fmtInt(s.sentPerSec)}/s, precomputed ${fmtInt(p.sentPerSec)}/s${p.exhausted ? " (ran out)" : ""} → ${mode}`);
    await settle(sinkCount, (c) => c.count);
  }
  // Precompute mode: enough datagrams for the faster of the calibrated rates, with headroom.
  const blastS = flags.seconds / flags.rounds;
  const preCount = Math.ceil(blastS * Math.max(calibration.precomputePerSec ?? 400_000, calibration.signPerSec ?? 0) * 1.5);

  const blastBare = async (start: number, target = sinkProc, port = sinkPort, blastMode = mode, blastSeconds = blastS): Promise<Blast> => {
    const count = () => target.request<SinkCount>("count");
    const a0 = await count();
    const r0 = cpuSeconds(target.pid);
    const s0 = cpuSeconds(snd.pid);
    const b = await ask<BlastResult>(`blast ${port} ${blastMode} ${start} ${blastSeconds}`, blastSeconds * 1000 + 30_000);
    const s1 = cpuSeconds(snd.pid);
    const a1 = await settle(count, (c) => c.count);
    const r1 = cpuSeconds(target.pid);
    return {
      sent: b.sent,
      sentPerSec: b.sentPerSec,
      elapsedMs: b.elapsedMs,
      received: a1.count - a0.count,
      kernelDrops: a1.socketDrops !== null && a0.socketDrops !== null ? a1.socketDrops - a0.socketDrops : null,
      receiverCpuS: r1 - r0,
      senderCpuS: s1 - s0,
      exhausted: b.exhausted,
    };
  };
  const blastMaster = async (start: number): Promise<Blast> => {
    const m0 = await m.status();
    const r0 = cpuSeconds(m.pid);
    const s0 = cpuSeconds(snd.pid);
    const b = await ask<BlastResult>(`blast ${m.udpPort} ${mode} ${start} ${blastS}`, blastS * 1000 + 30_000);
    const s1 = cpuSeconds(snd.pid);
    const m1 = await settle(() => m.status(), (s: StatusBody) => s.ingest.accepted);
    const r1 = cpuSeconds(m.pid);
    const drops: Record<string, number> = {};
    for (const [k, v] of Object.entries(m1.ingest.dropped)) drops[k] = v - (m0.ingest.dropped[k] ?? 0);
    const k0 = m0.ingest.kernel;
    const k1 = m1.ingest.kernel;
    return {
      sent: b.sent,
      sentPerSec: b.sentPerSec,
      elapsedMs: b.elapsedMs,
      received: m1.ingest.accepted - m0.ingest.accepted,
      kernelDrops: k0 && k1 ? k1.socketDrops - k0.socketDrops : null,
      receiverCpuS: r1 - r0,
      senderCpuS: s1 - s0,
      exhausted: b.exhausted,
      drops,
    };
  };

  const rounds: { bare: Blast; master: Blast; ratio: number }[] = [];
  for (let r = 0; r < flags.rounds; r++) {
    const start = roundStart(r, flags.hosts);
    if (mode === "precompute") await ask(`prepare ${preCount} ${start}`, 300_000);
    let bare: Blast;
    let mst: Blast;
    if (r % 2 === 0) {
      bare = await blastBare(start);
      mst = await blastMaster(start);
    } else {
      mst = await blastMaster(start);
      bare = await blastBare(start);
    }
    const ratio = mst.received / mst.elapsedMs / (bare.received / bare.elapsedMs);
    rounds.push({ bare, master: mst, ratio });
    const dropped = Object.values(mst.drops!).reduce((x, y) => x + y, 0);
    console.log(
      `round ${r + 1}: bare ${fmtInt((bare.received * 1000) / bare.elapsedMs)}/s of ${fmtInt(bare.sentPerSec)}/s sent, master ${fmtInt((mst.received * 1000) / mst.elapsedMs)}/s of ${fmtInt(mst.sentPerSec)}/s sent → ${ratio.toFixed(3)}; master drops ${dropped}`,
    );
  }

  // Totals over the rounds.
  const sum = (xs: Blast[], f: (b: Blast) => number) => xs.reduce((s, b) => s + f(b), 0);
  const total = (xs: Blast[]) => {
    const sec = sum(xs, (b) => b.elapsedMs) / 1000;
    const received = sum(xs, (b) => b.received);
    const kd = xs.every((b) => b.kernelDrops !== null) ? sum(xs, (b) => b.kernelDrops!) : null;
    return {
      sent: sum(xs, (b) => b.sent),
      sentPerSec: Math.round(sum(xs, (b) => b.sent) / sec),
      received,
      receivedPerSec: Math.round(received / sec),
      kernelSocketDrops: kd,
      cpuShare: round(sum(xs, (b) => b.receiverCpuS) / sec, 3),
      cpuUsPerDatagram: round((sum(xs, (b) => b.receiverCpuS) * 1e6) / received, 3),
      senderCpuShare: round(sum(xs, (b) => b.senderCpuS) / sec, 3),
      senderExhausted: xs.some((b) => b.exhausted),
    };
  };
  const bare = total(rounds.map((r) => r.bare));
  const mst = total(rounds.map((r) => r.master));
  const drops: Record<string, number> = {};
  for (const r of rounds) for (const [k, v] of Object.entries(r.master.drops!)) drops[k] = (drops[k] ?? 0) + v;
  const dropsTotal = Object.values(drops).reduce((x, y) => x + y, 0);
  const ratio = mst.receivedPerSec / bare.receivedPerSec;
  const roundMedian = percentile(rounds.map((r) => r.ratio), 50);
  // CPU each receiver spent per datagram it took. Their ratio is what the master would reach
  // against the bare receiver if both were CPU-bound rather than limited by the socket buffer.
  const cpuBoundRatio = bare.cpuUsPerDatagram / mst.cpuUsPerDatagram;

  console.log("");
  const row = (name: string, t: ReturnType<typeof total>) =>
    console.log(
      `${name.padEnd(22)}${fmtInt(t.sentPerSec).padStart(10)}${fmtInt(t.receivedPerSec).padStart(13)}${(t.kernelSocketDrops === null ? "n/a" : fmtInt(t.kernelSocketDrops)).padStart(14)}${`${(t.cpuShare * 100).toFixed(0)} %`.padStart(8)}${t.cpuUsPerDatagram.toFixed(2).padStart(12)}`,
    );
  console.log(`${"receiver".padEnd(22)}${"sent/s".padStart(10)}${"received/s".padStart(13)}${"kernel drops".padStart(14)}${"CPU".padStart(8)}${"CPU µs/dgm".padStart(12)}`);
  row("(a) bare Bun receiver", bare);
  row("(b) lava master", mst);
  console.log(`(master: received = accepted; CPU in % of one core; sender CPU ${(bare.senderCpuShare * 100).toFixed(0)} % / ${(mst.senderCpuShare * 100).toFixed(0)} %)`);
  console.log("");
  console.log(`ratio master/bare = ${ratio.toFixed(3)}  (target ≥ 0.8: ${ratio >= 0.8 ? "met" : "NOT met"}; rounds ${rounds.map((r) => r.ratio.toFixed(3)).join(", ")})`);
  console.log(`median of the rounds' ratios = ${roundMedian.toFixed(3)}`);
  console.log(`CPU-bound ratio (bare CPU per datagram / master CPU per datagram) = ${cpuBoundRatio.toFixed(3)}`);
  console.log(`master drops: ${dropsTotal === 0 ? "none" : Object.entries(drops).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ")}  (target 0: ${dropsTotal === 0 ? "met" : "NOT met"})`);

  let profile: { step: string; nsPerDatagram: number }[] | null = null;
  let receivedProfile: Record<string, number> | null = null;
  if (flags.profile) {
    // The driver is idle now (sender and sink wait on stdin), so this has a core to itself.
    profile = profileIngest(flags.hosts);
    console.log("\nin-process, per datagram (master's modules on Buffer.from copies, no sockets):");
    for (const p of profile) console.log(`  ${p.step.padEnd(40)} ${String(p.nsPerDatagram).padStart(6)} ns`);
    // The same steps on Buffers as Bun's UDP socket hands them out, timed per datagram in
    // a receiver that takes them in turns (bench/lib/udp-sink.ts "profile").
    const w = LineChild.spawn([process.execPath, join(HERE, "lib", "udp-sink.ts"), "profile"]);
    try {
      const { port } = await w.next<{ port: number }>();
      await ask<BlastResult>(`blast ${port} sign ${calStart} ${Math.min(3, flags.seconds)}`, 60_000);
      const r = await settle(() => w.request<{ count: number; profileNs: Record<string, number> }>("count"), (c) => c.count);
      receivedProfile = r.profileNs;
      console.log(`\nin a receiver, on the Buffers Bun's UDP socket hands out (${fmtInt(r.count)} datagrams, steps in turn):`);
      for (const [step, v] of Object.entries(receivedProfile)) console.log(`  ${step.padEnd(40)} ${String(v).padStart(6)} ns`);
    } finally {
      await w.stop();
    }
  }

  const path = writeResult(
    "ingest",
    {
      lava: version,
      binaryOlderThanSrc: stale,
      hosts: flags.hosts,
      secondsPerReceiver: flags.seconds,
      secondsPerBlast: blastS,
      rounds: flags.rounds,
      sender: { mode, batch: flags.batch, calibration, precomputed: mode === "precompute" ? preCount : 0 },
      rmemDefault: Number(sysctl("net/core/rmem_default")),
      niceOfReceivers: niced ? NICE : 0,
      loadAvgAtEnd: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number),
      bare,
      master: { ...mst, accepted: mst.received, acceptedPerSec: mst.receivedPerSec, drops, dropsTotal },
      ratio: round(ratio, 4),
      roundRatios: rounds.map((r) => round(r.ratio, 4)),
      roundRatioMedian: round(roundMedian, 4),
      cpuBoundRatio: round(cpuBoundRatio, 4),
      targets: { ratioMin: 0.8, ratioMet: ratio >= 0.8, zeroDropsMet: dropsTotal === 0 },
      profile,
      receivedProfile,
      registration: { elapsedMs: Math.round(reg.elapsedMs), rejected503: reg.rejected503 },
    },
    flags.out,
  );
  console.log(`wrote ${path}`);
} finally {
  for (const s of sessions) s.channel.close();
  await sender?.stop();
  await sink?.stop();
  announceSink?.close();
  await master?.dispose();
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
