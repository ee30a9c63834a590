/**
 * The report side of the fleet simulator (bench/lib/fleet-sim.ts), in a
 * worker thread: every host's report timer chain, its SLAVE_REPORTs and the
 * 100 ms arrival buckets. It runs apart from the thread that holds the
 * 10,000 control channels, because one process handling 10,000 closes at
 * once (the master restarting) stalls its event loop for a few hundred ms,
 * which no real agent does; the timers here keep their schedule meanwhile.
 *
 * Per host, as in src/agent/reporter.ts: the loop starts with the first
 * session, first report after phaseOffsetMs(hostname), then every
 * nextReportDelayMs(interval) measured from when the previous one fired;
 * a new session (new key, seq from 1) keeps the running loop; reports go on
 * with the old key while the control channel is down; a send the socket
 * refuses is counted and its seq not used.
 *
 * Reports go where the host's session says (the `udpPort` of its
 * `registered`), and elsewhere after a `retarget` (the connection machine
 * following a new leader's announce).
 *
 * Announces: each host registers the port of the socket it reports from
 * (as the agent does), so the masters' MASTER_ANNs arrive here. Each is
 * judged by the agent's own intake (src/agent/announce-intake.ts: AUTH tag
 * with the session key, replay by term and seq, membership); one that names
 * a leader other than the last one passed on, or says the master forgot the
 * host, goes to the main thread (in batches), where the host's connection
 * machine takes it. The others would change nothing there, and 2,500 a
 * second would cost the thread that holds the channels for nothing.
 *
 * Messages in: init, session, retarget, gen (master restarted), stats, stop.
 * Times are absolute ms (performance.timeOrigin + performance.now()), so
 * both threads share one clock.
 */
import type { udp } from "bun";
import { AnnounceIntake } from "../../src/agent/announce-intake.ts";
import type { Membership } from "../../src/agent/announce.ts";
import type { Rng } from "../../src/agent/backoff.ts";
import type { ReportSession } from "../../src/agent/reporter.ts";
import { nextReportDelayMs, phaseOffsetMs } from "../../src/agent/schedule.ts";
import { encodeReport } from "../../src/wire/index.ts";
import { mulberry32 } from "./stats.ts";

export const BUCKET_MS = 100;
const DATAGRAM = 148;
const SEQ_AT = 16;
const TAG_AT = 20;
const AUTH_END = 44;

export const absNow = (): number => performance.timeOrigin + performance.now();

export type ReporterIn =
  | { type: "init"; hosts: number; seed: number; sockets: number; epochAbs: number }
  /** `udpPort`: where its reports go (the master's, from `registered`). */
  | { type: "session"; i: number; hostId: number; key: Uint8Array; gen: number; intervalMs: number; udpPort: number; resumeSeq?: number }
  | { type: "retarget"; i: number; port: number }
  | { type: "gen"; gen: number }
  | { type: "stats" }
  | { type: "stop" };

export interface ReporterCounters {
  sent: number;
  sentCurrent: number;
  sentStale: number;
  sendRefused: number;
  sendErrors: number;
  socketErrors: number;
  /** Announces received, and of them passed on to the connection machines. */
  announces: number;
  announcesPassed: number;
}

export interface ReporterStats {
  /** Reports sent per 100 ms bucket since the epoch. */
  sends: number[];
  /** … of them under a session of the running master. */
  currentSends: number[];
  /** Timer lateness (fired − scheduled), whole ms, capped at 1000. */
  latenessHist: number[];
  latenessMaxBySecond: number[];
  counters: ReporterCounters;
}

/** An announce for host `i`'s connection machine (all masters run on 127.0.0.1 here). */
export interface AnnounceNote {
  i: number;
  leaderAddr: string;
  membership: Membership;
  /** The port it came from (the leader's report socket) and where reports go now. */
  fromPort: number;
  targetPort: number;
}

/** `ports`: the report sockets' ports (host i reports from, and registers, ports[i % sockets]). */
export type ReporterOut = { type: "ready"; ports: number[] } | { type: "stats"; stats: ReporterStats } | { type: "announces"; notes: AnnounceNote[] } | { type: "error"; error: string };

export function hostnameOf(i: number): string {
  return `sim-${String(i).padStart(5, "0")}`;
}

interface Host {
  hostname: string;
  rng: Rng;
  sock: number;
  hasher: Bun.CryptoHasher | null;
  seq: number;
  gen: number;
  intervalMs: number;
  armed: boolean;
  template: Uint8Array;
  /** What the agent's reporter knows of its session (announces are judged on it); null before the first. */
  session: ReportSession | null;
  /** leaderAddr of the last announce passed on. */
  passedLeader: string | null;
}

/** Binary min-heap of (time, host index) on parallel arrays. */
class Heap {
  private t: number[] = [];
  private v: number[] = [];
  get size(): number {
    return this.t.length;
  }
  peekT(): number {
    return this.t[0]!;
  }
  push(t: number, v: number): void {
    const T = this.t;
    const V = this.v;
    let i = T.length;
    T.push(t);
    V.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (T[p]! <= t) break;
      T[i] = T[p]!;
      V[i] = V[p]!;
      i = p;
    }
    T[i] = t;
    V[i] = v;
  }
  pop(out: [number, number]): void {
    const T = this.t;
    const V = this.v;
    out[0] = T[0]!;
    out[1] = V[0]!;
    const lt = T.pop()!;
    const lv = V.pop()!;
    const n = T.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && T[r]! < T[l]! ? r : l;
      if (T[c]! >= lt) break;
      T[i] = T[c]!;
      V[i] = V[c]!;
      i = c;
    }
    T[i] = lt;
    V[i] = lv;
  }
}

function add(arr: number[], k: number): void {
  while (arr.length <= k) arr.push(0);
  arr[k]!++;
}

declare const self: Worker;

if (typeof self !== "undefined" && !Bun.isMainThread) {
  let hosts: Host[] = [];
  let sockets: udp.Socket<"buffer">[] = [];
  let epochAbs = 0;
  const byHostId = new Map<number, number>();
  const intake = new AnnounceIntake(false);
  let notes: AnnounceNote[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  const flush = (): void => {
    flushTimer = null;
    if (notes.length) self.postMessage({ type: "announces", notes } satisfies ReporterOut);
    notes = [];
  };
  const onDatagram = (buf: Buffer, port: number, address: string): void => {
    const d = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    // The host is the one the AUTH block names (a bench socket is shared by many hosts).
    if (d.length < 16) return;
    const i = byHostId.get(new DataView(d.buffer, d.byteOffset, d.length).getUint32(12, false));
    c.announces++;
    if (i === undefined) return;
    const h = hosts[i]!;
    const ev = intake.take(d, { address, port }, { session: h.session, intervalMs: h.intervalMs, setIntervalMs: (ms) => (h.intervalMs = ms) }, () => true);
    if (!ev || ev.type !== "announce") return;
    if (ev.leaderAddr === h.passedLeader && ev.membership !== "inactive") return;
    h.passedLeader = ev.leaderAddr;
    c.announcesPassed++;
    notes.push({ i, leaderAddr: ev.leaderAddr, membership: ev.membership, fromPort: ev.from.port, targetPort: ev.reportTarget?.port ?? 0 });
    flushTimer ??= setTimeout(flush, 5);
  };
  let masterGen = 1;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let timerAt = Infinity;
  let stopped = false;
  const heap = new Heap();
  const popped: [number, number] = [0, 0];
  const scratch = new Uint8Array(DATAGRAM);
  const digest = new Uint8Array(64);
  const stats: ReporterStats = {
    sends: [],
    currentSends: [],
    latenessHist: new Array<number>(1001).fill(0),
    latenessMaxBySecond: [],
    counters: { sent: 0, sentCurrent: 0, sentStale: 0, sendRefused: 0, sendErrors: 0, socketErrors: 0, announces: 0, announcesPassed: 0 },
  };
  const c = stats.counters;

  const arm = (): void => {
    if (stopped || heap.size === 0) return;
    const next = heap.peekT();
    if (timer && timerAt <= next) return;
    if (timer) clearTimeout(timer);
    timerAt = next;
    timer = setTimeout(pump, Math.max(0, next - absNow()));
  };

  const report = (i: number, scheduled: number, now: number): void => {
    const h = hosts[i]!;
    const late = now - scheduled;
    stats.latenessHist[Math.min(1000, Math.max(0, Math.round(late)))]!++;
    const sec = Math.floor((now - epochAbs) / 1000);
    while (stats.latenessMaxBySecond.length <= sec) stats.latenessMaxBySecond.push(0);
    if (late > stats.latenessMaxBySecond[sec]!) stats.latenessMaxBySecond[sec] = Math.round(late);
    heap.push(now + nextReportDelayMs(h.intervalMs, h.rng), i);
    if (!h.hasher || !h.session) return;
    const seq = h.seq + 1;
    scratch.set(h.template);
    scratch[SEQ_AT] = seq >>> 24;
    scratch[SEQ_AT + 1] = (seq >>> 16) & 0xff;
    scratch[SEQ_AT + 2] = (seq >>> 8) & 0xff;
    scratch[SEQ_AT + 3] = seq & 0xff;
    const m = h.hasher.copy();
    m.update(scratch.subarray(0, TAG_AT));
    m.update(scratch.subarray(AUTH_END));
    m.digest(digest);
    scratch.set(digest.subarray(0, 24), TAG_AT);
    try {
      if (!sockets[h.sock]!.send(scratch, h.session.target.port, h.session.target.ip)) {
        c.sendRefused++;
        return;
      }
    } catch {
      // e.g. ECONNREFUSED: an ICMP error an earlier datagram drew while the master was down.
      c.sendErrors++;
      return;
    }
    h.seq = seq;
    const bucket = Math.floor((now - epochAbs) / BUCKET_MS);
    add(stats.sends, bucket);
    c.sent++;
    if (h.gen === masterGen) {
      add(stats.currentSends, bucket);
      c.sentCurrent++;
    } else c.sentStale++;
  };

  const pump = (): void => {
    timer = null;
    timerAt = Infinity;
    if (stopped) return;
    const now = absNow();
    while (heap.size && heap.peekT() <= now) {
      heap.pop(popped);
      report(popped[1], popped[0], now);
    }
    arm();
  };

  const onMessage = async (msg: ReporterIn): Promise<void> => {
    switch (msg.type) {
      case "init": {
        epochAbs = msg.epochAbs;
        for (let k = 0; k < msg.sockets; k++) {
          sockets.push(
            await Bun.udpSocket({
              hostname: "127.0.0.1",
              port: 0,
              socket: { data: (_s, buf, port, address) => onDatagram(buf, port, address), error: () => void c.socketErrors++ },
            }),
          );
        }
        const rep = { load1: 0.42, load5: 0.37, load15: 0.3, memUsed: 12 * 2 ** 30, memFree: 20 * 2 ** 30, swapUsed: 0, swapFree: 2 ** 31, ncpus: 8, cpuUser: 9.5, cpuSys: 2.5, cpuIdle: 88, jobsRunning: 0, jobsPending: 0, procsTotal: 310, flags: 0 };
        const zeroKey = new Uint8Array(32);
        hosts = Array.from({ length: msg.hosts }, (_, i) => ({
          hostname: hostnameOf(i),
          rng: mulberry32((msg.seed * 0x85ebca6b + i * 2 + 1) >>> 0),
          sock: i % msg.sockets,
          hasher: null,
          seq: 0,
          gen: 0,
          intervalMs: 4000,
          armed: false,
          session: null,
          passedLeader: null,
          template: encodeReport({ ...rep, load1: 0.1 + (i % 37) / 20, procsTotal: 200 + (i % 300) }, { hostId: 0, seq: 0, key: zeroKey }),
        }));
        self.postMessage({ type: "ready", ports: sockets.map((x) => x.port) } satisfies ReporterOut);
        return;
      }
      case "session": {
        const h = hosts[msg.i]!;
        h.hasher = new Bun.CryptoHasher("sha256", msg.key);
        // A resumed session keeps its key: seq goes on above what the master accepted (docs/api.md).
        h.seq = msg.resumeSeq === undefined ? 0 : Math.max(h.seq, msg.resumeSeq);
        h.gen = msg.gen;
        h.intervalMs = msg.intervalMs;
        if (h.session) byHostId.delete(h.session.hostId);
        h.session = { hostId: msg.hostId, key: msg.key, seq: h.seq, target: { ip: "127.0.0.1", port: msg.udpPort }, tcp: null, lastAnnounceSeq: -1, lastAnnounceTerm: 0 };
        byHostId.set(msg.hostId, msg.i);
        new DataView(h.template.buffer, h.template.byteOffset, DATAGRAM).setUint32(12, msg.hostId, false);
        if (!h.armed) {
          h.armed = true;
          heap.push(absNow() + phaseOffsetMs(h.hostname, h.intervalMs), msg.i);
          arm();
        }
        return;
      }
      case "retarget": {
        const s = hosts[msg.i]!.session;
        if (s) s.target = { ip: "127.0.0.1", port: msg.port };
        return;
      }
      case "gen":
        masterGen = msg.gen;
        return;
      case "stats":
        self.postMessage({ type: "stats", stats } satisfies ReporterOut);
        return;
      case "stop":
        stopped = true;
        if (timer) clearTimeout(timer);
        for (const s of sockets) s.close();
        self.postMessage({ type: "stats", stats } satisfies ReporterOut);
        return;
    }
  };

  self.onmessage = (ev: MessageEvent<ReporterIn>) => {
    onMessage(ev.data).catch((e: Error) => self.postMessage({ type: "error", error: e.stack ?? e.message } satisfies ReporterOut));
  };
}
