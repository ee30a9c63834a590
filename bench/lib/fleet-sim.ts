/**
 * A fleet of simulated agents in one process, for bench/fleet.ts.
 *
 * Each host behaves like `lava agent` (src/agent/agent.ts, reporter.ts)
 * where the master can tell:
 * - control channel: one WebSocket per host (bench/lib/ws.ts), `register`
 *   with its own hostname; on a drop it reconnects by the agent's rule
 *   (src/agent/backoff.ts: first wait ~reconnectMin ± 20 %, then full jitter,
 *   capped; the round resets after a session lasted STABLE_SESSION_MS); an
 *   upgrade answered 503 waits at least its Retry-After;
 * - reports: its own timer chain from src/agent/schedule.ts with a per-host
 *   seeded rng, SLAVE_REPORTs with AUTH, seq from 1 per session, and reports
 *   that go on with the old key while the channel is down. They run in a
 *   worker thread (bench/lib/fleet-reporter.ts) so that this thread's work
 *   on 10,000 channels cannot delay them.
 *
 * The hosts share a few UDP sockets: with AUTH the master identifies a report
 * by its host_id, not by its source. Every report's send time is counted in
 * 100 ms buckets (on loopback a send is an arrival), and so is each
 * registration.
 */
import { reconnectDelayMs, restartDelayMs, RESTART_RETRIES, STABLE_SESSION_MS, type BackoffPolicy, type Rng } from "../../src/agent/backoff.ts";
import { absNow, BUCKET_MS, hostnameOf, type ReporterIn, type ReporterOut, type ReporterStats } from "./fleet-reporter.ts";
import { newHostKey, signedRegisterMessage } from "./register.ts";
import type { HostKey } from "../../src/auth/index.ts";
import { mulberry32 } from "./stats.ts";
import { openChannel, type AgentChannel } from "./ws.ts";

export { BUCKET_MS };

type HostState = "new" | "connecting" | "registered" | "waiting";

interface SimHost {
  i: number;
  hostname: string;
  /** Backoff draws (the report timers have their own stream in the worker). */
  rng: Rng;
  state: HostState;
  gen: number;
  channel: AgentChannel | null;
  registeredAt: number;
  round: number;
  /** Its host key (made at the first connection) and the session token of its last registration, as the agent keeps them. */
  key: HostKey | null;
  sessionToken: string | null;
  hostId: number;
  /** Quick retries left after the master closed with 1001 (src/agent/backoff.ts restartDelayMs). */
  quick: number;
}

export interface FleetSimOptions {
  hosts: number;
  seed: number;
  sockets: number;
  masterHost: string;
  /**
   * `reportPort` the agents register: where the master sends their MASTER_ANNs.
   * A socket of another process (bench/fleet.ts uses bench/lib/udp-sink.ts), so
   * that the master's announce round, one datagram per host every 4 s, lands
   * there rather than on the simulator: real agents each receive only their own.
   */
  announcePort: number;
  /** Read at each connection attempt (the master restarts on the same ports). */
  httpPort: () => number;
  udpPort: number;
  token: string;
  policy: BackoffPolicy;
  handshakeTimeoutMs: number;
}

/** Counts of the whole 100 ms buckets inside [fromAbs, toAbs) (absolute ms). */
export function bucketWindow(counts: readonly number[], epochAbs: number, fromAbs: number, toAbs: number): number[] {
  const a = Math.ceil((fromAbs - epochAbs) / BUCKET_MS);
  const b = Math.floor((toAbs - epochAbs) / BUCKET_MS);
  const out: number[] = [];
  for (let k = a; k < b; k++) out.push(counts[k] ?? 0);
  return out;
}

export class FleetSim {
  /** Absolute ms (performance.timeOrigin + performance.now()) the buckets count from. */
  readonly epochAbs = absNow();
  /** Bumped when the master restarts: sessions of older generations are stale. */
  masterGen = 1;
  /** Registrations per 100 ms bucket. */
  readonly registrations: number[] = [];
  counters = { registrations: 0, rejected503: 0, connectFailures: 0, drops: 0, resumed: 0 };
  lastFailure = "";
  lastRegistrationAt = 0;
  /** Bugs in the simulator (not operating conditions), for the driver to report. */
  errors: string[] = [];
  registeredCurrent = 0;
  /** When every host was registered with the current master again (0: not yet). */
  allBackAt = 0;

  private readonly hosts: SimHost[] = [];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private stopped = false;
  private statsWaiter: ((s: ReporterStats) => void) | null = null;

  private constructor(
    readonly opts: FleetSimOptions,
    private readonly worker: Worker,
  ) {
    for (let i = 0; i < opts.hosts; i++) {
      this.hosts.push({ i, hostname: hostnameOf(i), rng: mulberry32((opts.seed * 0x9e3779b1 + i * 2) >>> 0), state: "new", gen: 0, channel: null, registeredAt: 0, round: 0, key: null, sessionToken: null, hostId: 0, quick: 0 });
    }
    worker.onmessage = (ev: MessageEvent<ReporterOut>) => {
      const m = ev.data;
      if (m.type === "stats") this.statsWaiter?.(m.stats);
      else if (m.type === "error") this.fail(new Error(`reporter: ${m.error}`));
    };
  }

  static async create(opts: FleetSimOptions): Promise<FleetSim> {
    const worker = new Worker(new URL("./fleet-reporter.ts", import.meta.url).href);
    const sim = new FleetSim(opts, worker);
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("report worker did not start")), 10_000);
      worker.addEventListener("message", (ev: MessageEvent<ReporterOut>) => {
        if (ev.data.type === "ready") {
          clearTimeout(t);
          resolve();
        }
      });
    });
    sim.post({ type: "init", hosts: opts.hosts, seed: opts.seed, sockets: opts.sockets, udpPort: opts.udpPort, epochAbs: sim.epochAbs });
    await ready;
    return sim;
  }

  private post(msg: ReporterIn): void {
    this.worker.postMessage(msg);
  }

  /** Absolute ms of a performance.now() value of this thread. */
  abs(t = performance.now()): number {
    return performance.timeOrigin + t;
  }

  /** First connection of every host, `ratePerSec` per second (a fleet being set up). */
  startAll(ratePerSec: number): void {
    for (const h of this.hosts) this.later(h, (h.i * 1000) / ratePerSec);
  }

  /** Backoff rounds back to 0, as for agents whose sessions have been up a long time. */
  resetRounds(): void {
    for (const h of this.hosts) h.round = 0;
  }

  /** The master is about to restart: every session so far belongs to the old one. */
  masterRestarting(): void {
    this.masterGen++;
    this.registeredCurrent = 0;
    this.allBackAt = 0;
    this.post({ type: "gen", gen: this.masterGen });
  }

  private fail(e: unknown): void {
    if (this.errors.length < 10) this.errors.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
  }

  private later(h: SimHost, delayMs: number): void {
    if (this.stopped) return;
    h.state = "waiting";
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.connect(h).catch((e) => this.fail(e));
    }, delayMs);
    this.timers.add(t);
  }

  private async connect(h: SimHost): Promise<void> {
    if (this.stopped) return;
    h.state = "connecting";
    let channel: AgentChannel | null = null;
    h.key ??= await newHostKey();
    // As the agent: reconnect with the session token (a resume, no write on the master), else the join token.
    const token = h.sessionToken ?? this.opts.token;
    const r = await openChannel({
      host: this.opts.masterHost,
      port: this.opts.httpPort(),
      token,
      register: await signedRegisterMessage({ hostname: h.hostname, reportPort: this.opts.announcePort }, h.key, token),
      timeoutMs: this.opts.handshakeTimeoutMs,
      onClose: (code) => {
        if (channel) this.onDrop(h, channel, code);
      },
    });
    if (this.stopped) {
      if (r.kind === "registered") r.channel.close();
      return;
    }
    const now = performance.now();
    if (r.kind === "registered") {
      channel = r.channel;
      h.channel = channel;
      h.gen = this.masterGen;
      h.registeredAt = now;
      h.state = "registered";
      this.registeredCurrent++;
      h.quick = 0;
      if (this.registeredCurrent === this.opts.hosts && this.allBackAt === 0) this.allBackAt = now;
      if (r.msg.sessionToken) h.sessionToken = r.msg.sessionToken;
      if (r.msg.reportSeq !== undefined) this.counters.resumed++;
      h.hostId = r.msg.hostId;
      this.post({ type: "session", i: h.i, hostId: r.msg.hostId, key: new Uint8Array(Buffer.from(r.msg.sessionKey, "base64")), gen: this.masterGen, intervalMs: r.msg.reportIntervalMs, ...(r.msg.reportSeq !== undefined ? { resumeSeq: r.msg.reportSeq } : {}) });
      this.counters.registrations++;
      const b = Math.floor((this.abs(now) - this.epochAbs) / BUCKET_MS);
      while (this.registrations.length <= b) this.registrations.push(0);
      this.registrations[b]!++;
      this.lastRegistrationAt = now;
      // Closed before we got here: the close callback found no channel yet.
      if (!channel.isOpen) this.onDrop(h, channel);
      return;
    }
    let delay = h.quick > 0 ? (h.quick--, restartDelayMs(this.opts.policy, h.rng)) : reconnectDelayMs(h.round++, this.opts.policy, h.rng);
    if (r.kind === "rejected" && r.status === 401 && h.sessionToken) h.sessionToken = null; // expired or revoked: the join token next
    if (r.kind === "rejected" && r.status === 503) {
      this.counters.rejected503++;
      delay = Math.max(delay, (r.retryAfterS ?? 0) * 1000);
    } else {
      this.counters.connectFailures++;
      this.lastFailure = r.kind === "rejected" ? `HTTP ${r.status}` : r.error;
    }
    this.later(h, delay);
  }

  private onDrop(h: SimHost, channel: AgentChannel, code = 1006): void {
    if (this.stopped || h.channel !== channel) return;
    h.channel = null;
    if (h.state === "registered" && h.gen === this.masterGen) this.registeredCurrent--;
    this.counters.drops++;
    if (performance.now() - h.registeredAt >= STABLE_SESSION_MS) h.round = 0;
    // As the agent: a master's clean shutdown (1001) brings it back within seconds, spread out.
    if (code === 1001) {
      h.quick = RESTART_RETRIES;
      this.later(h, restartDelayMs(this.opts.policy, h.rng));
      return;
    }
    this.later(h, reconnectDelayMs(h.round++, this.opts.policy, h.rng));
  }

  /** The report worker's figures so far. */
  stats(): Promise<ReporterStats> {
    return new Promise<ReporterStats>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("report worker gave no stats")), 10_000);
      this.statsWaiter = (s) => {
        clearTimeout(t);
        this.statsWaiter = null;
        resolve(s);
      };
      this.post({ type: "stats" });
    });
  }

  /** Stops reporting and connecting, closes every channel; returns the final report figures. */
  async stop(): Promise<ReporterStats | null> {
    if (this.stopped) return null;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const h of this.hosts) h.channel?.close();
    let s: ReporterStats | null = null;
    try {
      const p = this.stats();
      this.post({ type: "stop" });
      s = await p;
    } catch (e) {
      this.fail(e);
    }
    this.worker.terminate();
    return s;
  }
}
