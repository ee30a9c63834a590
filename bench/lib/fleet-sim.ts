/**
 * A fleet of simulated agents in one process, for bench/fleet.ts (and
 * bench/history.ts, through fleet-proc.ts).
 *
 * Each host's control channel is driven by the agent's own connection state
 * machine (src/agent/connection/: reconnects and backoff, admission waits,
 * following a new leader, not_leader redirects, session tokens), one
 * ConnectionMachine per host with its own seeded rng. This file decides
 * nothing about reconnecting: like src/agent/agent.ts it does what the
 * machine's actions say (open a channel with the session or the join token,
 * close one, arm and cancel timers, ask a busy master for its admission wait
 * with the agent's src/agent/admission.ts, move the reports) and tells the
 * machine how each connection ended, as src/agent/control.ts does. The
 * channel is a raw WebSocket client (bench/lib/ws.ts) that holds thousands
 * of channels in one process and sees the upgrade's HTTP status.
 *
 * Reports and announces run in a worker thread (bench/lib/fleet-reporter.ts):
 * each host's timer chain from src/agent/schedule.ts, SLAVE_REPORTs with
 * AUTH, reports going on with the old key while the channel is down, and
 * the masters' MASTER_ANNs judged by the agent's announce intake, so that
 * this thread's work on 10,000 channels cannot delay them. With
 * `announcePort` set, hosts register that port instead and announces go
 * there (not followed).
 *
 * Every report's send time is counted in 100 ms buckets (on loopback a send
 * is an arrival), and so is each registration.
 */
import { admissionDelayMs } from "../../src/agent/admission.ts";
import { STABLE_SESSION_MS, type BackoffPolicy, type Rng } from "../../src/agent/backoff.ts";
import { ConnectionMachine, FORGOTTEN_GRACE_MS, type ConnectionAction, type ConnectionEvent, type ControlOutcome, type TimerName } from "../../src/agent/connection/index.ts";
import type { HostKey } from "../../src/auth/index.ts";
import type { HostPort } from "../../src/control/index.ts";
import { absNow, BUCKET_MS, hostnameOf, type AnnounceNote, type ReporterIn, type ReporterOut, type ReporterStats } from "./fleet-reporter.ts";
import { newHostKey, signedRegisterMessage } from "./register.ts";
import { mulberry32 } from "./stats.ts";
import { openChannel, type AgentChannel, type MasterMessage, type OpenResult } from "./ws.ts";

export { BUCKET_MS };

interface SimHost {
  i: number;
  hostname: string;
  /** The machine's rng (backoff, spreads) and the admission wait's. */
  rng: Rng;
  m: ConnectionMachine;
  key: HostKey | null;
  /** The machine's current attempt, and its channel once registered. */
  attempt: number;
  channel: AgentChannel | null;
  /** performance.now() of the attempt's registration (0: not registered). */
  registeredAt: number;
  /** Index in `masters` of the master of the registered channel, or -1. */
  at: number;
  /** The generation it registered in (see newGeneration). */
  gen: number;
  /** The machine asked to close the channel: the outcome says so. */
  closing: { reason: string; reconnectNow: boolean } | null;
  timers: Partial<Record<TimerName, ReturnType<typeof setTimeout>>>;
}

export interface FleetSimOptions {
  hosts: number;
  seed: number;
  sockets: number;
  /** A single master: its address and HTTP port (read when each agent starts). */
  masterHost: string;
  httpPort: () => number;
  /** Unused (reports go to the `udpPort` of each registration); kept for callers that pass it. */
  udpPort?: number;
  /** Several masters (agent.master lists them all, in this order); default: the single master above. */
  masters?: { host: string; port: number }[];
  /**
   * Register this port as `reportPort` instead of the report socket's: the
   * masters' announces then land there (a sink of another process) and are
   * not followed. Leave it out to have announces reach the agents.
   */
  announcePort?: number;
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

/** How a channel that registered ended: what control.ts would tell the machine. */
function endedOutcome(registeredMs: number, code: number, notLeader: string | undefined, closing: SimHost["closing"]): ControlOutcome {
  if (closing) return { registered: true, registeredMs, reason: closing.reason, reconnectNow: closing.reconnectNow };
  const reason = notLeader !== undefined ? `the master is not the leader${notLeader ? `; the leader is ${notLeader}` : ""}` : code === 1006 ? "connection lost" : `closed by the master (code ${code})`;
  return { registered: true, registeredMs, reason, reconnectNow: false, ...(notLeader !== undefined ? { notLeader } : {}), ...(code >= 4000 || code === 1001 ? { closeCode: code } : {}) };
}

/** How an attempt that never registered ended. */
function refusedOutcome(r: Exclude<OpenResult, { kind: "registered" }>): ControlOutcome {
  const base = { registered: false, registeredMs: 0, reconnectNow: false };
  // The words control.ts uses for a 503: the machine marks the master busy on them.
  if (r.kind === "rejected") return { ...base, reason: r.status === 503 ? "the master is busy admitting other agents (HTTP 503)" : `the upgrade was refused (HTTP ${r.status})`, upgradeStatus: r.status };
  const code = r.closeCode;
  return { ...base, reason: r.error, ...(r.notLeader !== undefined ? { notLeader: r.notLeader } : {}), ...(code !== undefined && (code >= 4000 || code === 1001) ? { closeCode: code } : {}) };
}

export class FleetSim {
  /** Absolute ms (performance.timeOrigin + performance.now()) the buckets count from. */
  readonly epochAbs = absNow();
  /** Registrations per 100 ms bucket. */
  readonly registrations: number[] = [];
  /** Reports moved to a new leader by its announce, per 100 ms bucket. */
  readonly retargets: number[] = [];
  /** The follow spread masters named last (registered, pings), in ms; null before any did. */
  followSpreadMs: number | null = null;
  counters = {
    registrations: 0,
    resumed: 0,
    /** Upgrades answered 503 (admission). */
    rejected503: 0,
    connectFailures: 0,
    /** Attempts a master answered not_leader (a follower, or a deposed leader). */
    notLeader: 0,
    /** Registered channels that ended. */
    drops: 0,
    admissionAsks: 0,
    retargets: 0,
    /** Warnings the machines logged (an agent's log would show them). */
    warnings: 0,
  };
  lastFailure = "";
  lastRegistrationAt = 0;
  /** Bugs in the simulator (not operating conditions), for the driver to report. */
  errors: string[] = [];
  /** Registered channels open now, per master (index in masters), of the current generation. */
  readonly registeredOn: number[];
  /** performance.now() when each master first held every host's channel in this generation (0: not yet). */
  readonly fullAt: number[];
  /** The masters agents are given (agent.master), in order. */
  readonly masters: HostPort[];

  private readonly hosts: SimHost[] = [];
  private gen = 1;
  private ports: number[] = [];
  /** The report sockets' ports (announces arrive there). */
  get reportPorts(): readonly number[] {
    return this.ports;
  }
  private stopped = false;
  private statsWaiter: ((s: ReporterStats) => void) | null = null;

  private constructor(
    readonly opts: FleetSimOptions,
    private readonly worker: Worker,
  ) {
    this.masters = (opts.masters ?? [{ host: opts.masterHost, port: opts.httpPort() }]).map((m) => ({ host: m.host, port: m.port, scheme: "http" as const }));
    this.registeredOn = this.masters.map(() => 0);
    this.fullAt = this.masters.map(() => 0);
    for (let i = 0; i < opts.hosts; i++) {
      const rng = mulberry32((opts.seed * 0x9e3779b1 + i * 2) >>> 0);
      const m = new ConnectionMachine({
        policy: opts.policy,
        rng,
        now: () => performance.now(),
        wallClock: Date.now,
        joinToken: opts.token,
        stableSessionMs: STABLE_SESSION_MS,
        forgottenGraceMs: FORGOTTEN_GRACE_MS,
      });
      this.hosts.push({ i, hostname: hostnameOf(i), rng, m, key: null, attempt: 0, channel: null, registeredAt: 0, at: -1, gen: 0, closing: null, timers: {} });
    }
    worker.onmessage = (ev: MessageEvent<ReporterOut>) => {
      const msg = ev.data;
      if (msg.type === "stats") this.statsWaiter?.(msg.stats);
      else if (msg.type === "announces") for (const n of msg.notes) this.announce(n);
      else if (msg.type === "error") this.fail(new Error(`reporter: ${msg.error}`));
    };
  }

  static async create(opts: FleetSimOptions): Promise<FleetSim> {
    const worker = new Worker(new URL("./fleet-reporter.ts", import.meta.url).href);
    const sim = new FleetSim(opts, worker);
    const ready = new Promise<number[]>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("report worker did not start")), 10_000);
      worker.addEventListener("message", (ev: MessageEvent<ReporterOut>) => {
        if (ev.data.type === "ready") {
          clearTimeout(t);
          resolve(ev.data.ports);
        }
      });
    });
    sim.post({ type: "init", hosts: opts.hosts, seed: opts.seed, sockets: opts.sockets, epochAbs: sim.epochAbs });
    sim.ports = await ready;
    return sim;
  }

  /** Registered channels of the current generation, on any master. */
  get registeredCurrent(): number {
    return this.registeredOn.reduce((a, b) => a + b, 0);
  }

  /** When the (first) master held every channel again since the last generation began (0: not yet). */
  get allBackAt(): number {
    return this.fullAt[0] ?? 0;
  }

  private post(msg: ReporterIn): void {
    this.worker.postMessage(msg);
  }

  /** Absolute ms of a performance.now() value of this thread. */
  abs(t = performance.now()): number {
    return performance.timeOrigin + t;
  }

  /** Starts every host's agent, `ratePerSec` per second (a fleet being set up). */
  startAll(ratePerSec: number): void {
    for (const h of this.hosts) {
      setTimeout(() => {
        if (!this.stopped) this.dispatch(h, { type: "start", masters: this.masters, scheme: "http" });
      }, (h.i * 1000) / ratePerSec);
    }
  }

  /** The master is about to restart: every session so far belongs to the old one. */
  masterRestarting(): void {
    this.newGeneration();
  }

  /** The leader is about to be killed: channels count again from 0, on whichever master they come back to. */
  leaderKilled(): void {
    this.newGeneration();
  }

  private newGeneration(): void {
    this.gen++;
    this.registeredOn.fill(0);
    this.fullAt.fill(0);
    this.post({ type: "gen", gen: this.gen });
  }

  private fail(e: unknown): void {
    if (this.errors.length < 10) this.errors.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
  }

  // ---- the machine's edges (as src/agent/agent.ts)

  private dispatch(h: SimHost, ev: ConnectionEvent): void {
    if (this.stopped) return;
    let actions: ConnectionAction[];
    try {
      actions = h.m.step(ev);
    } catch (e) {
      this.fail(e);
      return;
    }
    for (const a of actions) this.perform(h, a);
  }

  private perform(h: SimHost, a: ConnectionAction): void {
    switch (a.type) {
      case "connect":
        this.attempt(h, a.attempt, a.master, a.token ?? "").catch((e) => this.fail(e));
        break;
      case "close":
        if (h.attempt === a.attempt && h.channel) {
          h.closing = { reason: a.reason, reconnectNow: a.reconnectNow };
          h.channel.close();
        }
        break;
      case "send":
        if (h.attempt === a.attempt) h.channel?.send(a.message);
        break;
      case "schedule": {
        clearTimeout(h.timers[a.timer]);
        const timer = a.timer;
        h.timers[timer] = setTimeout(() => {
          delete h.timers[timer];
          this.dispatch(h, { type: "timer", timer });
        }, a.delayMs);
        break;
      }
      case "cancel":
        clearTimeout(h.timers[a.timer]);
        delete h.timers[a.timer];
        break;
      case "ask_admission":
        this.counters.admissionAsks++;
        void admissionDelayMs(a.master, h.rng, undefined, a.resume).then((delayMs) => this.dispatch(h, { type: "admission", delayMs }));
        break;
      case "save_token":
        // The machine holds the token; an agent also keeps it in its state dir.
        break;
      case "retarget":
        this.counters.retargets++;
        this.bucket(this.retargets);
        this.post({ type: "retarget", i: h.i, port: a.to.port });
        break;
      case "log":
        if (a.level === "warn" || a.level === "error") this.counters.warnings++;
        break;
    }
  }

  private masterIndex(m: HostPort): number {
    return this.masters.findIndex((x) => x.port === m.port && x.host === m.host);
  }

  /** One connection attempt, from the machine's connect to the closed event it gets back. */
  private async attempt(h: SimHost, attempt: number, master: HostPort, token: string): Promise<void> {
    h.attempt = attempt;
    h.closing = null;
    h.key ??= await newHostKey();
    const register = await signedRegisterMessage({ hostname: h.hostname, reportPort: this.opts.announcePort ?? this.ports[h.i % this.ports.length]! }, h.key, token);
    let ended!: (e: { code: number; notLeader: string | undefined }) => void;
    const closed = new Promise<{ code: number; notLeader: string | undefined }>((r) => (ended = r));
    const r = await openChannel({
      host: master.host,
      port: master.port,
      token,
      register,
      timeoutMs: this.opts.handshakeTimeoutMs,
      onClose: (code, _reason, notLeader) => ended({ code, notLeader }),
      onMessage: (msg) => this.message(h, attempt, msg),
    });
    if (this.stopped) {
      if (r.kind === "registered") r.channel.close();
      return;
    }
    if (r.kind !== "registered") {
      if (r.kind === "rejected" && r.status === 503) this.counters.rejected503++;
      else if (r.kind === "failed" && r.notLeader !== undefined) this.counters.notLeader++;
      else {
        this.counters.connectFailures++;
        this.lastFailure = r.kind === "rejected" ? `HTTP ${r.status}` : r.error;
      }
      this.dispatch(h, { type: "closed", attempt, outcome: refusedOutcome(r) });
      return;
    }
    this.registered(h, master, r.msg, r.channel);
    const msg = r.msg;
    this.dispatch(h, {
      type: "registered",
      attempt,
      hostId: msg.hostId,
      ...(msg.masters ? { masters: msg.masters } : {}),
      ...(msg.sessionToken && msg.sessionExpiresAtMs ? { sessionToken: { token: msg.sessionToken, expiresAtMs: msg.sessionExpiresAtMs } } : {}),
      ...(msg.followSpreadMs !== undefined ? { followSpreadMs: msg.followSpreadMs } : {}),
    });
    const end = await closed;
    const registeredMs = performance.now() - h.registeredAt;
    h.channel = null;
    h.registeredAt = 0;
    if (h.gen === this.gen && h.at >= 0) this.registeredOn[h.at]!--;
    h.at = -1;
    this.counters.drops++;
    if (this.stopped) return;
    if (end.notLeader !== undefined) this.counters.notLeader++;
    this.dispatch(h, { type: "closed", attempt, outcome: endedOutcome(registeredMs, end.code, end.notLeader, h.closing) });
  }

  private registered(h: SimHost, master: HostPort, msg: Extract<OpenResult, { kind: "registered" }>["msg"], channel: AgentChannel): void {
    const now = performance.now();
    h.channel = channel;
    h.registeredAt = now;
    h.gen = this.gen;
    h.at = this.masterIndex(master);
    if (h.at >= 0 && ++this.registeredOn[h.at]! === this.opts.hosts && this.fullAt[h.at] === 0) this.fullAt[h.at] = now;
    this.counters.registrations++;
    if (msg.reportSeq !== undefined) this.counters.resumed++;
    // As the agent: reports go to the registering master's UDP port, under the new key.
    this.post({ type: "session", i: h.i, hostId: msg.hostId, key: new Uint8Array(Buffer.from(msg.sessionKey, "base64")), gen: this.gen, intervalMs: msg.reportIntervalMs, udpPort: msg.udpPort, ...(msg.reportSeq !== undefined ? { resumeSeq: msg.reportSeq } : {}) });
    if (msg.followSpreadMs !== undefined) this.followSpreadMs = msg.followSpreadMs;
    this.bucket(this.registrations, now);
    this.lastRegistrationAt = now;
  }

  private bucket(counts: number[], now = performance.now()): void {
    const b = Math.floor((this.abs(now) - this.epochAbs) / BUCKET_MS);
    while (counts.length <= b) counts.push(0);
    counts[b]!++;
  }

  /** A message after `registered` on attempt `attempt`. */
  private message(h: SimHost, attempt: number, msg: MasterMessage): void {
    if (h.attempt !== attempt) return;
    if (msg.type === "session_token" && typeof msg.token === "string" && typeof msg.expiresAtMs === "number") {
      this.dispatch(h, { type: "session_token", attempt, token: msg.token, expiresAtMs: msg.expiresAtMs });
    } else if (msg.type === "ping" && typeof msg.followSpreadMs === "number") {
      this.followSpreadMs = msg.followSpreadMs;
      this.dispatch(h, { type: "follow_spread", attempt, ms: msg.followSpreadMs });
    }
  }

  /** An announce the worker passed on (judged there with the session key), as agent.ts's intake would hand it over. */
  private announce(n: AnnounceNote): void {
    const h = this.hosts[n.i];
    if (!h || !h.m.trusts(n.leaderAddr)) return;
    this.dispatch(h, { type: "announce", leaderAddr: n.leaderAddr, membership: n.membership, from: { ip: "127.0.0.1", port: n.fromPort }, reportTarget: n.targetPort ? { ip: "127.0.0.1", port: n.targetPort } : null });
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
    for (const h of this.hosts) {
      for (const t of Object.values(h.timers)) clearTimeout(t);
      h.timers = {};
      h.channel?.close();
    }
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
