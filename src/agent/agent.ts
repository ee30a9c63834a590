/**
 * `lava agent`: registers with a master over the control channel, sends
 * load reports over UDP, follows MASTER_ANNs (design §1-§4, docs/api.md).
 * This file wires the parts together; it makes no connection decision of
 * its own.
 *
 * The connection (connection/machine.ts, a pure state machine, where its
 * states, reconnects, backoff, leader following and session tokens are
 * described): createAgent feeds it what the edges see (a connection
 * registered or ended, an announce accepted, a timer fired, stop) and does
 * what it answers (open a connection with openControl, close one, arm or
 * cancel a timer, ask a busy master for its admission wait, keep the
 * session token in the state dir, move the reports, log).
 *
 * Jobs (jobs/runner.ts): the agent owns one JobRunner for its whole life,
 * across reconnects. `run_job`, `kill_job` and `ack` from a registered
 * session go to it; its `job_event`s are sent at once while registered and
 * stay in its outbox until acked. After each registration the agent sends
 * the whole outbox again, oldest first, and then `status` (the jobs it
 * runs): finished events first, so that the master, reconciling with
 * `status`, already knows how the jobs missing from it ended. stop() kills
 * the jobs (they end KILLED "agent stopping") before closing the channel,
 * so those events can still go out.
 *
 * Requests (requests.ts, docs/api.md "Agent requests") are taken from the
 * registered session only. After each registration, following the job
 * messages above: the kept command results, the alerts still firing (and
 * resolves that did not go out), then a health report. stop() ends those
 * too, before the channel closes: running commands are killed (their
 * results say so), log streams end with `logs_end`; then a last `status`
 * "offline" goes out, so the master shows the host offline at once.
 */
import { hostname as osHostname } from "node:os";
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import * as v from "valibot";
import { clientTls, defaultAgentStateDir, type AgentConfig } from "../config/index.ts";
import type { HostKey } from "../auth/index.ts";
import { defaultScheme, formatHostPort, httpUrl, parseMasterList, withScheme, RegisterSchema, type AgentMessage, type AgentRequest, type Ack, type HostPort, type JobEvent, type KillJob, type Registered, type RunJob, type SessionToken, type SignalJob } from "../control/index.ts";
import { loadOrCreateHostKey, readSessionToken, writeSessionToken } from "./host-key.ts";
import { logger } from "../log/index.ts";
import { hardwareInfo, ProcSampler } from "./procfs/index.ts";
import type { RestartPlan } from "./update/index.ts";
import { STABLE_SESSION_MS } from "./backoff.ts";
import { errorText, guard, openControl, type ControlConnection, type ControlOutcome } from "./control.ts";
import { ConnectionMachine, FORGOTTEN_GRACE_MS, type ConnectionAction, type ConnectionEvent, type TimerName } from "./connection/index.ts";
import { openReporter, type Reporter } from "./reporter.ts";
import { createJobHost } from "./jobs/host.ts";
import { commandAllowed, refusalText } from "./exec/allow.ts";
import { admissionDelayMs } from "./admission.ts";
import { AnnounceIntake } from "./announce-intake.ts";
import type { AgentDeps } from "./deps.ts";
import { registerMessage, signedRegister, type RegisterSource } from "./register.ts";
import { createRequestParts } from "./requests.ts";
import type { AgentStatus } from "./status.ts";

export { admissionDelayMs } from "./admission.ts";
export type { AgentDeps } from "./deps.ts";
export type { AgentState, AgentStatus } from "./status.ts";

const log = logger("agent");

/** The session key `registered` hands out (docs/api.md): 32 bytes, base64. */
export const SESSION_KEY_BYTES = 32;
/** Bounds on a report interval from the master (the MASTER_ANN limits of src/wire). */
const INTERVAL_MS_MIN = 100;
const INTERVAL_MS_MAX = 3_600_000;
/** How often self-fencing looks at when a master was last heard. */
const FENCE_TICK_MS = 250;

export interface Agent {
  /** Binds the UDP socket (throws if it cannot) and starts connecting; resolves without waiting for a master. */
  start(): Promise<void>;
  /**
   * Kills running jobs and commands and ends log streams (`reason` goes into
   * their results; default "agent stopping"), then closes the WebSocket and
   * the socket and clears every timer; resolves when all is down. Idempotent.
   */
  stop(reason?: string): Promise<void>;
  status(): AgentStatus;
  /** Resolves once an `update_agent` has put a verified new binary in place: stop, then restart with the plan (run.ts). */
  readonly restartRequested: Promise<RestartPlan>;
}

async function defaultResolve(host: string): Promise<string> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(bare)) return bare;
  return (await lookup(bare)).address;
}

/** The outcome of an attempt that never opened a socket. */
const notOpened = (reason: string): ControlOutcome => ({ registered: false, registeredMs: 0, reason, reconnectNow: false });

export function createAgent(config: AgentConfig, deps: AgentDeps = {}): Agent {
  const rng = deps.rng ?? Math.random;
  const now = deps.now ?? (() => performance.now());
  const handshakeTimeoutMs = deps.handshakeTimeoutMs ?? 10_000;
  const keepaliveMs = deps.keepaliveMs ?? 15_000;
  const resolve = deps.resolve ?? defaultResolve;
  const sampler = deps.sampler ?? new ProcSampler(config.procRoot);
  const wallClock = deps.wallClock ?? Date.now;
  const configFile = deps.configFile ?? null;
  const hostname = config.hostname ?? osHostname();
  const policy = { minMs: config.reconnectMin * 1000, maxMs: config.reconnectMax * 1000 };
  const machine = new ConnectionMachine({
    policy,
    rng,
    now,
    wallClock,
    joinToken: config.token,
    stableSessionMs: deps.stableSessionMs ?? STABLE_SESSION_MS,
    forgottenGraceMs: deps.forgottenGraceMs ?? FORGOTTEN_GRACE_MS,
  });
  const jobHost = createJobHost(config, {
    runner: { ...deps.jobRunner, onEvent: sendJobEvent },
    // The exec allowlist's matcher, on the job's whole argv (docs/jobs.md "What jobs may run").
    allowed: config.jobs.allow.length > 0 ? (argv) => (commandAllowed(argv, config.jobs.allow) ? null : refusalText(argv, config.jobs.allow, configFile, "agent.jobs.allow", "LAVA_JOBS_ALLOW")) : null,
    now,
    ...(deps.gpuRoots ? { gpuRoots: deps.gpuRoots } : {}),
  });
  const runner = jobHost.runner;
  const jobs = deps.jobs ?? (() => runner.counts());
  const hardware = deps.hardware ?? (() => hardwareInfo(config.procRoot));
  const registerSource: RegisterSource = { hostname, hardware, jobHardware: () => jobHost.hardware(), wallClock };
  // Read now, so that a bad agent.tls.ca stops start-up (exit 2) before anything runs.
  const tls = clientTls("agent", config.tls);
  const stateDir = config.stateDir ?? defaultAgentStateDir(config.hostname);
  /** The host key (loaded in start()); proves this host's identity in every `register`. */
  let hostKey: (HostKey & { fingerprint: string }) | null = null;

  let reporter: Reporter | null = null;
  /** The open connection, and the machine's number for it. */
  let conn: ControlConnection | null = null;
  let connAttempt = 0;
  /** The current attempt, from its connect action to its closed event. */
  let attemptDone: Promise<void> | null = null;
  let invalidMessagesDone = 0;
  let stopping = false;
  /** stop() is done: everything is down. */
  let down = false;
  let stopDone: Promise<void> | null = null;
  let stopSignal!: () => void;
  const stopped = new Promise<void>((r) => (stopSignal = r));
  let fenceTimer: ReturnType<typeof setInterval> | null = null;
  let statusTimer: ReturnType<typeof setInterval> | null = null;
  const intake = new AnnounceIntake(config.insecure);

  // ---- requests (exec/, health/, alerts/, logs/, update/) and the agent's own status

  /** Sends on the registered session, if there is one; false if none (or the socket would not take it). */
  function sendRegistered(msg: AgentMessage): boolean {
    const c = conn;
    return c !== null && c.registeredAt !== null && c.send(msg);
  }

  const parts = createRequestParts({
    config,
    deps,
    hostname,
    now,
    wallClock,
    configFile,
    env: deps.env ?? process.env,
    tls,
    runner,
    send: sendRegistered,
    token: () => machine.token(),
    procProblem: () => reporter?.problem === "sample",
  });

  function onRequest(msg: AgentRequest, c: ControlConnection): void {
    if (c === conn) parts.handle(msg, c);
  }

  // ---- jobs

  /** A new job event: out at once if a session is registered; it stays in the runner's outbox until acked either way. */
  function sendJobEvent(ev: JobEvent): void {
    sendRegistered(ev);
  }

  function onJobMessage(msg: RunJob | KillJob | SignalJob | Ack, c: ControlConnection): void {
    if (c !== conn) return;
    switch (msg.type) {
      case "run_job":
        runner.run(msg);
        break;
      case "kill_job":
        runner.kill(msg);
        break;
      case "signal_job":
        runner.signal(msg);
        break;
      case "ack":
        runner.ack(msg);
        break;
    }
  }

  // ---- the connection machine's edges

  const timers = new Map<TimerName, ReturnType<typeof setTimeout>>();

  /** Steps the machine and does what it says. Nothing it does steps the machine again before returning. */
  function dispatch(ev: ConnectionEvent): void {
    let actions: ConnectionAction[];
    try {
      actions = machine.step(ev);
    } catch (e) {
      // A bug, not an operating condition: log it and keep the agent alive.
      log.error(`internal error in the connection machine on ${ev.type} (ignored): ${errorText(e)}`);
      return;
    }
    for (const a of actions) perform(a);
  }

  function perform(a: ConnectionAction): void {
    switch (a.type) {
      case "connect":
        attemptDone = attempt(a.attempt, a.master, a.token);
        break;
      case "close":
        if (conn && connAttempt === a.attempt) conn.end(a.reason, { reconnectNow: a.reconnectNow });
        break;
      case "send":
        if (conn && connAttempt === a.attempt) conn.send(a.message);
        break;
      case "schedule": {
        clearTimeout(timers.get(a.timer));
        const timer = a.timer;
        timers.set(
          timer,
          setTimeout(
            guard(() => {
              timers.delete(timer);
              dispatch({ type: "timer", timer });
            }),
            a.delayMs,
          ),
        );
        break;
      }
      case "cancel":
        clearTimeout(timers.get(a.timer));
        timers.delete(a.timer);
        break;
      case "ask_admission":
        void admissionDelayMs(a.master, rng, tls, a.resume).then((delayMs) => dispatch({ type: "admission", delayMs }));
        break;
      case "save_token":
        writeSessionToken(stateDir, a.token);
        break;
      case "retarget":
        reporter?.retarget(a.to);
        break;
      case "log":
        log[a.level](a.text);
        break;
    }
  }

  /** One connection attempt; tells the machine how it ended. */
  async function attempt(id: number, m: HostPort, token: string | undefined): Promise<void> {
    let outcome: ControlOutcome;
    try {
      outcome = await connection(id, m, token);
    } catch (e) {
      log.error(`internal error in connection attempt ${id} (recovering): ${errorText(e)}`);
      outcome = notOpened(`internal error: ${errorText(e)}`);
    }
    dispatch({ type: "closed", attempt: id, outcome });
  }

  /** Resolves `m`, opens the control channel with `token` and waits until it has ended. */
  async function connection(id: number, m: HostPort, token: string | undefined): Promise<ControlOutcome> {
    let masterIp: string;
    try {
      const ip = await Promise.race([resolve(m.host), stopped.then(() => null)]);
      if (ip === null) return notOpened("agent stopping");
      masterIp = ip;
    } catch (e) {
      return notOpened(`cannot resolve ${m.host}: ${errorText(e)}`);
    }
    if (stopping || !reporter) return notOpened("agent stopping");
    const register = await signedRegister(registerSource, hostKey, reporter.port, token);
    if (stopping) return notOpened("agent stopping");
    const c: ControlConnection = openControl({
      master: m,
      token,
      tls,
      register,
      handshakeTimeoutMs,
      keepaliveMs,
      now,
      onRegistered: (msg, cc) => onRegistered(msg, cc, masterIp),
      onPing: (msg, cc) => {
        if (cc !== conn) return;
        if (msg.reports) reporter?.masterCounts(msg.reports);
        if (msg.followSpreadMs !== undefined) dispatch({ type: "follow_spread", attempt: connAttempt, ms: msg.followSpreadMs });
      },
      onJobMessage,
      onRequest,
      onSessionToken,
    });
    conn = c;
    connAttempt = id;
    const outcome = await c.outcome;
    parts.connectionEnded(c);
    invalidMessagesDone += c.invalidMessages;
    if (conn === c) conn = null;
    return outcome;
  }

  function onRegistered(msg: Registered, c: ControlConnection, masterIp: string): void {
    if (c !== conn || !reporter) return;
    const key = new Uint8Array(Buffer.from(msg.sessionKey, "base64"));
    if (key.length !== SESSION_KEY_BYTES) {
      c.end(`master sent a ${key.length}-byte session key, expected ${SESSION_KEY_BYTES}`);
      return;
    }
    const intervalMs = Math.min(INTERVAL_MS_MAX, Math.max(INTERVAL_MS_MIN, msg.reportIntervalMs));
    reporter.setIntervalMs(intervalMs);
    // A resumed session (the master sends reportSeq) keeps its key: reports go on above the last seq either side knows.
    const prev = reporter.session;
    const sameKey = msg.reportSeq !== undefined && prev !== null && prev.hostId === msg.hostId && Buffer.from(prev.key).equals(Buffer.from(key));
    const seq = msg.reportSeq === undefined ? 0 : Math.max(msg.reportSeq, sameKey ? prev.seq : 0);
    reporter.startSession({ hostId: msg.hostId, key, target: { ip: masterIp, port: msg.udpPort }, tcpPort: msg.tcpReportPort ?? null, seq });
    jobHost.setLostAfterMs(msg.lostAfterMs);
    dispatch({
      type: "registered",
      attempt: connAttempt,
      hostId: msg.hostId,
      ...(msg.masters ? { masters: msg.masters } : {}),
      ...(msg.sessionToken && msg.sessionExpiresAtMs ? { sessionToken: { token: msg.sessionToken, expiresAtMs: msg.sessionExpiresAtMs } } : {}),
      ...(msg.followSpreadMs !== undefined ? { followSpreadMs: msg.followSpreadMs } : {}),
    });
    log.info(`registered with master ${formatHostPort(c.master)} as host ${hostname} (id ${msg.hostId}); reports every ${intervalMs / 1000} s to ${masterIp}:${msg.udpPort}`);
    // Unacknowledged job events first, then what runs (see the top of this file).
    const pending = runner.outbox();
    for (const ev of pending) c.send(ev);
    c.send({ ...runner.statusMessage(), ...parts.selfStatus() });
    if (pending.length > 0) log.info(`sent ${pending.length} unacknowledged job event(s) again`);
    // Then what a new master must learn: results kept while away, alerts still firing, the health.
    parts.afterRegistration();
  }

  function onSessionToken(msg: SessionToken, c: ControlConnection): void {
    if (c !== conn) return;
    dispatch({ type: "session_token", attempt: connAttempt, token: msg.token, expiresAtMs: msg.expiresAtMs });
  }

  function onDatagram(buf: Uint8Array, from: { address: string; port: number }): void {
    if (!reporter) return;
    const ev = intake.take(buf, from, reporter, (addr) => machine.trusts(addr));
    if (ev) dispatch(ev);
  }

  // ---- lifecycle

  async function stopAll(reason: string): Promise<void> {
    stopping = true;
    stopSignal();
    dispatch({ type: "stop" });
    if (statusTimer) clearInterval(statusTimer);
    // Jobs, commands, check commands, log streams and an update under way first, while the channel may still carry their last messages.
    await Promise.all([runner.stop(reason), parts.stop(reason)]);
    if (fenceTimer) clearInterval(fenceTimer);
    jobHost.stop();
    const c = conn;
    // A clean stop: the master shows this host offline at once instead of after 3 silent intervals.
    if (c && c.registeredAt !== null) c.send({ type: "status", status: "offline", detail: reason.slice(0, 500) });
    c?.end("agent stopping");
    await attemptDone;
    if (c) await c.closed;
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
    reporter?.close();
    down = true;
    log.info("agent stopped");
  }

  return {
    async start() {
      if (stopping || machine.view().phase !== "idle") throw new Error("agent already started");
      const listed = parseMasterList(config.master);
      const scheme = defaultScheme(listed, config.tls !== undefined);
      const masters = listed.map((m) => withScheme(m, scheme));
      const probe = v.safeParse(RegisterSchema, registerMessage(registerSource, 1));
      if (!probe.success) {
        throw new Error(`cannot register as "${hostname}": ${v.summarize(probe.issues)} (set agent.hostname or --hostname)`);
      }
      let keptSessionToken: string | null = null;
      if (!config.insecure) {
        try {
          hostKey = await loadOrCreateHostKey(stateDir);
        } catch (e) {
          throw new Error(`${errorText(e)} (state directory ${stateDir}: set agent.stateDir or --state-dir)`);
        }
        keptSessionToken = readSessionToken(stateDir);
      }
      reporter = await openReporter({
        port: config.reportPort,
        hostname,
        insecure: config.insecure,
        transport: config.reportTransport,
        intervalMs: Math.min(INTERVAL_MS_MAX, Math.max(INTERVAL_MS_MIN, Math.round(config.interval * 1000))),
        sampler,
        jobs,
        rng,
        onDatagram,
      });
      // Before any work: what a previous agent left running here ends first (docs/jobs.md).
      await jobHost.start(masters);
      fenceTimer = setInterval(() => {
        const c = conn;
        jobHost.tick(c && c.registeredAt !== null ? c.lastHeardAt : null);
      }, FENCE_TICK_MS);
      parts.start();
      // /proc trouble shows in the reporter; checked as often as reports go out.
      statusTimer = setInterval(guard(parts.updateSelfStatus), Math.max(1000, reporter.intervalMs));
      log.info(`agent ${hostname} starting: masters ${masters.map(httpUrl).join(", ")}, reports from UDP port ${reporter.port}`);
      dispatch({ type: "start", masters, scheme, keptSessionToken });
    },

    stop(reason = "agent stopping") {
      stopDone ??= stopAll(reason);
      return stopDone;
    },

    status() {
      const s = reporter?.session ?? null;
      const js = runner.stats();
      const c = machine.view();
      return {
        state: down ? "stopped" : c.phase,
        master: c.master ? formatHostPort(c.master) : null,
        hostId: s?.hostId ?? null,
        seq: s?.seq ?? 0,
        reportIntervalMs: reporter?.intervalMs ?? Math.round(config.interval * 1000),
        reportPort: reporter?.port ?? 0,
        registrations: c.registrations,
        reportsSent: reporter?.counters.reportsSent ?? 0,
        reportsSentTcp: reporter?.counters.reportsSentTcp ?? 0,
        reportTransport: reporter?.transport ?? "udp",
        reportsSkipped: reporter?.counters.reportsSkipped ?? 0,
        announcesAccepted: intake.accepted,
        announcesRejected: { ...intake.rejected },
        invalidMessages: invalidMessagesDone + (conn?.invalidMessages ?? 0),
        leaderHint: c.leaderHint ? formatHostPort(c.leaderHint) : null,
        lastProblem: c.lastProblem,
        jobsRunning: js.running,
        jobsPending: js.pending,
        jobsFinished: js.finished,
        jobEventsUnacked: js.outbox,
        ...parts.stats(),
        agentStatus: parts.agentStatus,
        hostKey: hostKey?.fingerprint ?? null,
        usingSessionToken: c.usingSessionToken,
      };
    },

    restartRequested: parts.restartRequested,
  };
}
