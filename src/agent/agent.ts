/**
 * `lava agent`: registers with a master over the control channel, sends
 * load reports over UDP, follows MASTER_ANNs (design §1-§4, docs/api.md).
 *
 * States (status().state):
 *   idle → connecting → registered → connecting (a drop) → waiting (backoff) → connecting → …
 *   stop() from any state → stopped.
 *
 * Reconnecting (backoff.ts): masters from config.master are tried in turn,
 * the leader named by the latest announce first. After a registered session
 * drops, the first pass waits ~reconnectMin (±20 %); each pass over the
 * whole list that fails adds a backoff round (full jitter, capped at
 * reconnectMax). The round resets once a session stayed registered for
 * 60 s. An announce saying the master forgot this host ends the session and
 * reconnects at once, without waiting.
 *
 * Following the leader (several masters, docs/replication.md): a master
 * that answers `not_leader` names the leader, which is tried at once (a few
 * redirects in a row at most). A leader that steps down hands its agents off
 * the same way; they reconnect after a random delay of up to reconnectMin,
 * so the new leader sees no storm. An announce from a new leader (only
 * leaders announce) moves the reports to it at once — its live load is then
 * complete within one report interval — and the channel after such a delay.
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
 * Requests (docs/api.md "Agent requests"), from a registered session only:
 * `execute` → exec/ (its command_output while it runs, one command_result;
 * results that find no session are kept, bounded, and sent after the next
 * registration); `health_check` → health/ (also every agent.health.interval
 * and once after each registration); `stream_logs` / `stop_logs` → logs/
 * (a stream belongs to the connection it came on and ends with it);
 * `update_agent` → update/ (on success `restartRequested` resolves and
 * run.ts stops the agent and re-executes the new binary). alerts/ evaluates
 * agent.alerts.rules every agent.alerts.interval. After each registration,
 * following the job messages above: the kept command results, the alerts
 * still firing (and resolves that did not go out), then a health report.
 * stop() ends those too, before the channel closes: running commands are
 * killed (their results say so), log streams end with `logs_end`.
 *
 * Logging: one info/warn line per state change (registered; disconnected,
 * with the reason and the wait; "master unreachable" once until the next
 * registration); each retry only at debug level.
 */
import { hostname as osHostname, release as osRelease, type as osType } from "node:os";
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import * as v from "valibot";
import { clientTls, defaultAgentStateDir, type AgentConfig, type ClientTls } from "../config/index.ts";
import { randomBytes } from "node:crypto";
import { registerProofFields, type HostKey } from "../auth/index.ts";
import { join } from "node:path";
import { defaultScheme, formatHostPort, httpUrl, parseHostPort, parseMasterList, withScheme, RegisterSchema, type Ack, type AgentHealthStatus, type AgentMessage, type AgentRequest, type Health, type HostPort, type JobEvent, type KillJob, type Register, type Registered, type RunJob, type SessionToken, type SignalJob } from "../control/index.ts";
import { loadOrCreateHostKey, readSessionToken, writeSessionToken } from "./host-key.ts";
import { logger } from "../log/index.ts";
import { VERSION } from "../version.ts";
import { hardwareInfo, ProcSampler, type HardwareInfo, type JobCounts } from "./procfs/index.ts";
import { judgeAnnounce, type AnnounceRejection } from "./announce.ts";
import { reconnectDelayMs, restartDelayMs, RESTART_RETRIES, STABLE_SESSION_MS, type Rng } from "./backoff.ts";
import { errorText, guard, httpBase, openControl, type ControlConnection, type ControlOutcome } from "./control.ts";
import { openReporter, type Reporter, type Sampler } from "./reporter.ts";
import { commandEnv, currentUser, type EnvSource, type JobRunnerOptions } from "./jobs/index.ts";
import { createJobHost } from "./jobs/host.ts";
import type { GpuRoots } from "./jobs/gpus.ts";
import { commandAllowed, refusalText } from "./exec/allow.ts";
import { createExecutor, type ExecutorOptions } from "./exec/index.ts";
import { collectHealth, createHealthMonitor, fullestDiskPercent, readDisks, type DiskSource, type Statfs } from "./health/index.ts";
import { createAlertMonitor } from "./alerts/index.ts";
import { createLogStreamer, type LogStreamerOptions } from "./logs/index.ts";
import { createUpdater, isCompiledBinary, type RestartPlan } from "./update/index.ts";
import { createTelemetryMonitor, TelemetryCollector, type TelemetrySources } from "./telemetry/index.ts";

const log = logger("agent");

/** The session key `registered` hands out (docs/api.md): 32 bytes, base64. */
export const SESSION_KEY_BYTES = 32;
/** Bounds on a report interval from the master (the MASTER_ANN limits of src/wire). */
const INTERVAL_MS_MIN = 100;
const INTERVAL_MS_MAX = 3_600_000;
/** Follower redirects ("not_leader", with the leader's address) followed in a row before the normal backoff. */
const REDIRECTS_MAX = 3;
/** `hardware.os` is at most 200 characters (control/messages.ts). */
const OS_CHARS_MAX = 200;
/** How often self-fencing looks at when a master was last heard. */
const FENCE_TICK_MS = 250;

export type AgentState = "idle" | "connecting" | "registered" | "waiting" | "stopped";

export interface AgentStatus {
  state: AgentState;
  /** "host:port" of the master connected to (or being tried). */
  master: string | null;
  /** From the last registration; kept while disconnected (reports still use it). */
  hostId: number | null;
  /** Last report seq sent in the current session. */
  seq: number;
  reportIntervalMs: number;
  /** Local UDP port reports are sent from; 0 before start(). */
  reportPort: number;
  registrations: number;
  reportsSent: number;
  /** Of reportsSent, those that went over TCP. */
  reportsSentTcp: number;
  /** How reports go now: "udp" or "tcp" (agent.reportTransport). */
  reportTransport: "udp" | "tcp";
  reportsSkipped: number;
  announcesAccepted: number;
  /** Datagrams received that were not an acceptable announce, by reason. */
  announcesRejected: Partial<Record<AnnounceRejection, number>>;
  /** Control messages that failed validation, over all connections. */
  invalidMessages: number;
  /** Leader address from the latest announce, tried first on the next connection. */
  leaderHint: string | null;
  /** Why the last connection attempt failed or the last session ended, or null. */
  lastProblem: string | null;
  /** Job attempts running now. */
  jobsRunning: number;
  /** Job attempts accepted but not started yet (waiting for an older attempt to end). */
  jobsPending: number;
  /** Job attempts ended since the agent started. */
  jobsFinished: number;
  /** Job events waiting for the master's ack. */
  jobEventsUnacked: number;
  /** `execute` commands running now. */
  commandsRunning: number;
  /** Final command results waiting for a registered session. */
  commandResultsKept: number;
  /** Log streams running now. */
  logStreams: number;
  /** Alerts firing now. */
  alertsFiring: number;
  /** Alert evaluations done (one every agent.alerts.interval). */
  alertEvaluations: number;
  /** Health reports sent (periodic and answers). */
  healthReportsSent: number;
  /** What the agent says of itself: degraded while a health check fails or /proc cannot be read. */
  agentStatus: AgentHealthStatus;
  /** Fingerprint of the host key (null before start()). */
  hostKey: string | null;
  /** Connections use the session token the master handed out (not the join token). */
  usingSessionToken: boolean;
}

/** Everything createAgent takes from outside, so tests can steer it; all optional. */
export interface AgentDeps {
  rng?: Rng;
  /** Monotonic milliseconds. */
  now?: () => number;
  sampler?: Sampler;
  hardware?: () => HardwareInfo;
  /** Jobs running and pending on this host, for the reports (default: the job runner's counts). */
  jobs?: () => JobCounts;
  /** Options of the job runner (bootId, clocks, grace and outbox bounds); its events always go to the master. */
  jobRunner?: Omit<JobRunnerOptions, "onEvent">;
  /** Where GPUs are detected (tests: a fake /proc, /sys, /dev). */
  gpuRoots?: GpuRoots;
  /** Host name → IP literal for UDP. */
  resolve?: (host: string) => Promise<string>;
  /** A connection with no `registered` after this long is given up. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** WebSocket ping period; 2 of them without any frame from the master end the session. Default 15 s. */
  keepaliveMs?: number;
  /** A session registered this long resets the backoff. Default 60 s. */
  stableSessionMs?: number;
  /**
   * An announce that says the master forgot this host is ignored during the
   * first this-many ms of a session: an announce built just before our
   * registration may still be on its way. Default 5 s (above the master's
   * 4 s announce period).
   */
  forgottenGraceMs?: number;
  /** The config file the agent read (named in refusals: "add it to agent.exec.allow in <file>"); null or absent if none. */
  configFile?: string | null;
  /** Milliseconds since the epoch, for the `at` of health reports, alerts and log lines. */
  wallClock?: () => number;
  /** Where PATH, HOME, LANG and USER of `execute`, health-check commands and journalctl come from (default process.env). */
  env?: EnvSource;
  /** Bounds of `execute` (running at once, kill grace, kept results, output flush). */
  exec?: Pick<ExecutorOptions, "runningMax" | "killGraceMs" | "resultsMax" | "flushMs">;
  /** Where the health checks and the disk alert metric read filesystems (default: `mounts` under procRoot, fs.statfsSync). */
  health?: { mountsPath?: string; statfs?: Statfs };
  /** Log streaming: poll period, sessions, sink rate. */
  logs?: Pick<LogStreamerOptions, "pollMs" | "sessionsMax" | "sink">;
  /**
   * Self-update: the executable to replace (default process.execPath),
   * whether it is a compiled lava binary (default: judged from Bun.main), the
   * argv to restart with (default process.argv), the version check's timeout.
   */
  update?: { execPath?: string; compiled?: boolean; argv?: readonly string[]; versionCheckTimeoutMs?: number };
  /** Telemetry sources beyond procRoot (sysfs, nvidia-smi, statfs) for tests. */
  telemetry?: Partial<Omit<TelemetrySources, "procRoot" | "containerSockets">>;
}

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

export function createAgent(config: AgentConfig, deps: AgentDeps = {}): Agent {
  const rng = deps.rng ?? Math.random;
  const now = deps.now ?? (() => performance.now());
  const handshakeTimeoutMs = deps.handshakeTimeoutMs ?? 10_000;
  const keepaliveMs = deps.keepaliveMs ?? 15_000;
  const stableSessionMs = deps.stableSessionMs ?? STABLE_SESSION_MS;
  const forgottenGraceMs = deps.forgottenGraceMs ?? 5_000;
  const resolve = deps.resolve ?? defaultResolve;
  const sampler = deps.sampler ?? new ProcSampler(config.procRoot);
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
  const hostname = config.hostname ?? osHostname();
  const policy = { minMs: config.reconnectMin * 1000, maxMs: config.reconnectMax * 1000 };
  const wallClock = deps.wallClock ?? Date.now;
  const configFile = deps.configFile ?? null;
  const agentEnv = deps.env ?? process.env;
  const startedAt = now();
  // Read now, so that a bad agent.tls.ca stops start-up (exit 2) before anything runs.
  const tls = clientTls("agent", config.tls);
  const stateDir = config.stateDir ?? defaultAgentStateDir(config.hostname);
  /** The host key (loaded in start()); proves this host's identity in every `register`. */
  let hostKey: (HostKey & { fingerprint: string }) | null = null;
  /**
   * The session token from the last registration (docs/security.md): used
   * instead of the join token to reconnect, refreshed at half-life over the
   * channel, dropped when the master says it is no longer good.
   */
  let sessionToken: { token: string; expiresAtMs: number } | null = null;
  const currentToken = () => sessionToken?.token ?? config.token;

  // ---- requests (exec/, health/, alerts/, logs/, update/)

  /** Sends on the registered session, if there is one; false if none (or the socket would not take it). */
  function sendRegistered(msg: AgentMessage): boolean {
    const c = conn;
    return c !== null && c.registeredAt !== null && c.send(msg);
  }

  const executor = createExecutor({ ...deps.exec, allow: config.exec.allow, deploy: config.deploy, outputLimitBytes: config.exec.outputLimit, configFile, send: sendRegistered, env: agentEnv });
  const disks: DiskSource = { mountsPath: deps.health?.mountsPath ?? join(config.procRoot, "mounts"), ...(deps.health?.statfs ? { statfs: deps.health.statfs } : {}) };
  // Agent status (online / degraded / offline): from the health checks and whether /proc can be read.
  let healthFailing: string | null = null;
  let agentStatus: AgentHealthStatus = "online";
  let agentStatusDetail: string | null = null;
  function observeHealth(msg: Health): void {
    const failing = Object.entries(msg.checks)
      .filter(([, c]) => c.status === "critical" || c.status === "unknown")
      .map(([name, c]) => `${name}: ${c.status}${c.detail ? ` (${c.detail})` : ""}`);
    healthFailing = failing.length ? failing.join("; ").slice(0, 400) : null;
    updateAgentStatus();
  }
  function updateAgentStatus(): void {
    if (stopping) return;
    const procProblem = reporter?.problem === "sample" ? "cannot read /proc" : null;
    const detail = [healthFailing, procProblem].filter((x) => x !== null).join("; ") || null;
    const next: AgentHealthStatus = detail ? "degraded" : "online";
    if (next === agentStatus && detail === agentStatusDetail) return;
    if (next !== agentStatus) log.info(`agent status: ${next}${detail ? ` (${detail})` : ""}`);
    agentStatus = next;
    agentStatusDetail = detail;
    sendRegistered({ type: "status", status: agentStatus, ...(detail ? { detail: detail.slice(0, 500) } : {}) });
  }
  const health = createHealthMonitor({
    intervalMs: config.health.interval * 1000,
    collect: (signal) =>
      collectHealth({
        procRoot: config.procRoot,
        disks,
        memory: { warn: config.health.memWarn, crit: config.health.memCrit },
        disk: { warn: config.health.diskWarn, crit: config.health.diskCrit },
        commands: config.health.checks,
        env: commandEnv(agentEnv, currentUser()),
        uptimeMs: now() - startedAt,
        signal,
      }),
    send: (m) => {
      observeHealth(m);
      return sendRegistered(m);
    },
    wallClock,
  });
  // Its own sampler: the alerts' cpu is the delta between two evaluations, independent of the report timing.
  const alertSampler = new ProcSampler(config.procRoot);
  const alerts = createAlertMonitor({
    hostname,
    rules: config.alerts.rules,
    intervalMs: config.alerts.interval * 1000,
    sample: () => alertSampler.sample({ running: 0, pending: 0 }, 0),
    diskPercent: () => fullestDiskPercent(readDisks(disks)),
    send: sendRegistered,
    now,
    wallClock,
  });
  const logs = createLogStreamer({ ...deps.logs, allow: config.logs.allow, units: config.logs.units, configFile, env: agentEnv });
  const telemetryCollector = new TelemetryCollector({ procRoot: config.procRoot, containerSockets: config.telemetry.containerSockets, ...deps.telemetry }, config.telemetry.interval * 1000);
  const telemetry = config.telemetry.enabled
    ? createTelemetryMonitor({ intervalMs: config.telemetry.interval * 1000, collect: () => telemetryCollector.collect(now(), wallClock()), send: sendRegistered })
    : null;
  let requestRestart!: (plan: RestartPlan) => void;
  const restartRequested = new Promise<RestartPlan>((r) => (requestRestart = r));
  const updater = createUpdater({
    execPath: deps.update?.execPath ?? process.execPath,
    compiled: deps.update?.compiled ?? isCompiledBinary(Bun.main),
    token: currentToken,
    tls,
    deliver: (r) => executor.deliver(r),
    onReady: (plan) => requestRestart(plan),
    env: agentEnv,
    ...(deps.update?.argv ? { argv: deps.update.argv } : {}),
    ...(deps.update?.versionCheckTimeoutMs ? { versionCheckTimeoutMs: deps.update.versionCheckTimeoutMs } : {}),
  });

  function onRequest(msg: AgentRequest, c: ControlConnection): void {
    if (c !== conn) return;
    switch (msg.type) {
      case "execute":
        executor.execute(msg);
        break;
      case "health_check":
        health.request(msg.requestId, (h) => c.send(h));
        break;
      case "stream_logs":
        logs.start(msg, { send: (m) => c.send(m), bufferedAmount: () => c.bufferedAmount() }, c);
        break;
      case "stop_logs":
        logs.stop(msg.requestId);
        break;
      case "update_agent":
        updater.update(msg, httpBase(c.master));
        break;
      case "deploy":
        executor.deploy(msg);
        break;
      case "peek_job":
        c.send(runner.peek(msg));
        break;
    }
  }

  let masters: HostPort[] = [];
  /** For addresses without a scheme: the configured list's and those learnt later (announces, not_leader), which are bare host:port. */
  let scheme: "http" | "https" = "http";
  const learnt = (addr: string): HostPort | null => {
    const hp = parseHostPort(addr);
    return hp ? withScheme(hp, scheme) : null;
  };
  let state: AgentState = "idle";
  let reporter: Reporter | null = null;
  let conn: ControlConnection | null = null;
  /** The master of the last registration (reports go there). */
  let sessionMaster: HostPort | null = null;
  let connecting: HostPort | null = null;
  let leaderHint: HostPort | null = null;
  let lastLeaderAddr: string | null = null;
  let registrations = 0;
  let announcesAccepted = 0;
  let invalidMessagesDone = 0;
  let lastProblem: string | null = null;
  const announcesRejected: Partial<Record<AnnounceRejection, number>> = {};
  let loop: Promise<void> | null = null;
  let fenceTimer: ReturnType<typeof setInterval> | null = null;
  let stopping = false;
  let wake: (() => void) | null = null;
  let stopSignal!: () => void;
  const stopped = new Promise<void>((r) => (stopSignal = r));

  // ---- control channel

  function registerMessage(reportPort: number): Register {
    let hw: HardwareInfo;
    try {
      hw = hardware();
    } catch (e) {
      log.warn(`cannot read the hardware (${errorText(e)}); registering with 1 cpu and 0 bytes`);
      hw = { ncpus: 1, memBytes: 0 };
    }
    return {
      type: "register",
      hostname,
      hardware: { ncpus: Math.max(1, Math.round(hw.ncpus)), memBytes: Math.max(0, Math.round(hw.memBytes)), os: `${osType()} ${osRelease()}`.slice(0, OS_CHARS_MAX), ...jobHost.hardware() },
      reportPort,
      version: VERSION,
    };
  }

  /** A `register` for a connection that sends `token`: with the host key's proof bound to that token. */
  async function signedRegister(reportPort: number, token: string | undefined): Promise<Register> {
    const base = registerMessage(reportPort);
    if (!hostKey) return base;
    return { ...base, ...(await registerProofFields(hostKey, hostname, token, Math.round(wallClock()), randomBytes(16).toString("base64"))) };
  }

  function keepSessionToken(token: string, expiresAtMs: number, c: ControlConnection): void {
    sessionToken = { token, expiresAtMs };
    writeSessionToken(stateDir, token);
    scheduleRefresh(c);
  }

  function dropSessionToken(why: string): void {
    if (!sessionToken) return;
    log.info(`dropping the session token (${why}); registering with the join token`);
    sessionToken = null;
    writeSessionToken(stateDir, null);
  }

  let refreshTimer: ReturnType<typeof setTimeout> | null = null;
  /** Asks for a new session token at half of the current one's remaining life (at least 1 s from now). */
  function scheduleRefresh(c: ControlConnection): void {
    if (refreshTimer) clearTimeout(refreshTimer);
    refreshTimer = null;
    if (!sessionToken || stopping) return;
    const leftMs = sessionToken.expiresAtMs - wallClock();
    refreshTimer = setTimeout(
      () => {
        refreshTimer = null;
        if (c !== conn || c.registeredAt === null || stopping) return;
        c.send({ type: "session_refresh" });
        scheduleRefresh(c);
      },
      Math.max(1000, Math.min(leftMs / 2, 12 * 3600 * 1000)),
    );
  }

  function onSessionToken(msg: SessionToken, c: ControlConnection): void {
    if (c !== conn) return;
    keepSessionToken(msg.token, msg.expiresAtMs, c);
  }

  /** "host:port" of masters whose announces the agent follows: its own list, and what a master it registered with said. */
  const trustedMasters = new Set<string>();
  const trustKey = (hp: HostPort) => formatHostPort(hp).toLowerCase();

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
    for (const m of msg.masters ?? []) {
      const hp = learnt(m);
      if (hp) trustedMasters.add(trustKey(hp));
    }
    if (msg.sessionToken && msg.sessionExpiresAtMs) keepSessionToken(msg.sessionToken, msg.sessionExpiresAtMs, c);
    jobHost.setLostAfterMs(msg.lostAfterMs);
    sessionMaster = c.master;
    registrations++;
    state = "registered";
    if (leaderHint && formatHostPort(leaderHint) === formatHostPort(c.master)) leaderHint = null;
    log.info(`registered with master ${formatHostPort(c.master)} as host ${hostname} (id ${msg.hostId}); reports every ${intervalMs / 1000} s to ${masterIp}:${msg.udpPort}`);
    // Unacknowledged job events first, then what runs (see the top of this file).
    const pending = runner.outbox();
    for (const ev of pending) c.send(ev);
    c.send({ ...runner.statusMessage(), status: agentStatus, ...(agentStatusDetail ? { detail: agentStatusDetail.slice(0, 500) } : {}) });
    if (pending.length > 0) log.info(`sent ${pending.length} unacknowledged job event(s) again`);
    // Then what a new master must learn: results kept while away, alerts still firing, the health.
    executor.flush();
    alerts.onRegistered();
    health.onRegistered();
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

  /** One connection attempt to `m`; resolves when it has ended. */
  async function session(m: HostPort): Promise<ControlOutcome> {
    state = "connecting";
    connecting = m;
    log.debug(`connecting to master ${formatHostPort(m)}`);
    let masterIp: string;
    try {
      const ip = await Promise.race([resolve(m.host), stopped.then(() => null)]);
      if (ip === null) return { registered: false, registeredMs: 0, reason: "agent stopping", reconnectNow: false };
      masterIp = ip;
    } catch (e) {
      return { registered: false, registeredMs: 0, reason: `cannot resolve ${m.host}: ${errorText(e)}`, reconnectNow: false };
    }
    if (stopping || !reporter) return { registered: false, registeredMs: 0, reason: "agent stopping", reconnectNow: false };
    const usedSession = sessionToken !== null;
    const token = currentToken();
    const register = await signedRegister(reporter.port, token);
    if (stopping) return { registered: false, registeredMs: 0, reason: "agent stopping", reconnectNow: false };
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
        if (cc === conn && msg.reports) reporter?.masterCounts(msg.reports);
      },
      onJobMessage,
      onRequest,
      onSessionToken,
    });
    conn = c;
    const outcome = await c.outcome;
    if (refreshTimer && conn === c) {
      clearTimeout(refreshTimer);
      refreshTimer = null;
    }
    // The session token is no longer good (revoked, expired, issued to another key): back to the join token.
    if (usedSession && (outcome.closeCode === 4005 || outcome.closeCode === 4007 || outcome.upgradeStatus === 401)) {
      dropSessionToken(outcome.reason);
      if (!outcome.registered && config.token) outcome.retryNow = true;
    }
    logs.ownerGone(c);
    invalidMessagesDone += c.invalidMessages;
    if (conn === c) conn = null;
    return outcome;
  }

  /** The order to try masters in: the announced leader first, then the configured list. */
  function candidates(): HostPort[] {
    const out: HostPort[] = [];
    const seen = new Set<string>();
    for (const m of leaderHint ? [leaderHint, ...masters] : masters) {
      const k = formatHostPort(m);
      if (!seen.has(k)) {
        seen.add(k);
        out.push(m);
      }
    }
    return out;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((res) => {
      const t = setTimeout(() => {
        wake = null;
        res();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = null;
        res();
      };
    });
  }

  async function controlLoop(): Promise<void> {
    let round = 0;
    let redirects = 0;
    /** Quick retries left after a master's clean shutdown (backoff.ts restartDelayMs). */
    let quick = 0;
    let unreachableLogged = false;
    log.info(`agent ${hostname} starting: masters ${masters.map(httpUrl).join(", ")}, reports from UDP port ${reporter?.port}`);
    while (!stopping) {
      let delayMs: number;
      try {
        const failures: string[] = [];
        let busyMaster: HostPort | null = null;
        let ended: { master: HostPort; outcome: ControlOutcome } | null = null;
        let redirected = false;
        for (const m of candidates()) {
          if (stopping) return;
          const outcome = await session(m);
          if (stopping) return;
          if (outcome.notLeader) leaderHint = learnt(outcome.notLeader) ?? leaderHint;
          if (outcome.retryNow) {
            redirected = true; // a new pass now, with the join token
            break;
          }
          if (outcome.registered) {
            ended = { master: m, outcome };
            break;
          }
          // A follower named the leader: try it first, now, in a new pass (a few times at most, in case they disagree).
          if (outcome.notLeader && leaderHint && redirects < REDIRECTS_MAX) {
            redirects++;
            redirected = true;
            break;
          }
          failures.push(`${formatHostPort(m)}: ${outcome.reason}`);
          if (outcome.reason.includes("HTTP 503")) busyMaster = m;
          lastProblem = `${formatHostPort(m)}: ${outcome.reason}`;
          log.debug(`cannot register with master ${formatHostPort(m)}: ${outcome.reason}`);
          if (leaderHint && formatHostPort(leaderHint) === formatHostPort(m)) leaderHint = null;
        }
        if (redirected) continue;
        redirects = 0;
        if (ended) {
          unreachableLogged = false;
          quick = 0;
          lastProblem = `${formatHostPort(ended.master)}: ${ended.outcome.reason}`;
          if (ended.outcome.registeredMs >= stableSessionMs) round = 0;
          if (ended.outcome.closeCode === 1001) {
            // The master is stopping, most often to restart at once: come back within seconds, spread out.
            quick = RESTART_RETRIES;
            delayMs = restartDelayMs(policy, rng);
            log.info(`master ${formatHostPort(ended.master)} is shutting down; reconnecting in ${seconds(delayMs)}`);
            state = "waiting";
            connecting = null;
            await sleep(delayMs);
            continue;
          }
          if (ended.outcome.reconnectNow) {
            log.debug(`left master ${formatHostPort(ended.master)} (${ended.outcome.reason}); registering again now`);
            continue;
          }
          if (ended.outcome.notLeader !== undefined) {
            // Handed off by a master that stopped leading: every agent of it gets this at once, so spread out.
            delayMs = Math.round(rng() * policy.minMs);
            log.info(`master ${formatHostPort(ended.master)} is no longer the leader; registering with ${leaderHint ? formatHostPort(leaderHint) : "the next master"} in ${seconds(delayMs)}`);
            state = "waiting";
            connecting = null;
            await sleep(delayMs);
            continue;
          }
          delayMs = reconnectDelayMs(round++, policy, rng);
          log.warn(`disconnected from master ${formatHostPort(ended.master)}: ${ended.outcome.reason}; reconnecting in ${seconds(delayMs)}`);
        } else {
          delayMs = quick > 0 ? (quick--, restartDelayMs(policy, rng)) : reconnectDelayMs(round++, policy, rng);
          if (busyMaster) delayMs = Math.max(delayMs, await admissionDelayMs(busyMaster, rng, tls, sessionToken !== null));
          const text = `master unreachable (${failures.join("; ")}), retrying in ${seconds(delayMs)}`;
          if (!unreachableLogged) log.warn(text);
          else log.debug(text);
          unreachableLogged = true;
        }
      } catch (e) {
        // A bug, not an operating condition: log it and keep the agent alive.
        log.error(`internal error in the control loop (recovering): ${errorText(e)}`);
        delayMs = reconnectDelayMs(round++, policy, rng);
      }
      state = "waiting";
      connecting = null;
      await sleep(delayMs);
    }
  }

  // ---- following a new leader

  let followTimer: ReturnType<typeof setTimeout> | null = null;
  let statusTimer: ReturnType<typeof setInterval> | null = null;

  /**
   * A new leader announced itself. The channel moves to it after a random
   * delay of up to reconnectMin (~10 s): after a failover every agent does
   * this, and the spread keeps the new leader from a reconnect storm. A
   * channel still up to the old master is ended; a reconnect that is waiting
   * is woken.
   */
  function followLeader(): void {
    if (followTimer || stopping) return;
    followTimer = setTimeout(() => {
      followTimer = null;
      if (stopping || !leaderHint) return;
      const c = conn;
      if (c && c.registeredAt !== null && formatHostPort(c.master) !== formatHostPort(leaderHint)) c.end(`moving to the leader ${formatHostPort(leaderHint)}`, { reconnectNow: true });
      else if (state === "waiting") wake?.();
    }, rng() * policy.minMs);
  }

  // ---- announces

  function onDatagram(buf: Uint8Array, from: { address: string; port: number }): void {
    if (!reporter) return;
    const s = reporter.session;
    const verdict = judgeAnnounce(buf, s, config.insecure);
    if (!verdict.ok) {
      announcesRejected[verdict.reason] = (announcesRejected[verdict.reason] ?? 0) + 1;
      log.debug(`ignored a datagram from ${from.address}:${from.port}: ${verdict.reason}`);
      return;
    }
    const a = verdict.announce;
    // A copy of a master's data dir started elsewhere holds the same secret and signs valid
    // announces: follow only masters of our own list or of the membership a master told us.
    const announced = learnt(a.leaderAddr);
    if (!config.insecure && (!announced || !trustedMasters.has(trustKey(announced)))) {
      announcesRejected.untrusted_leader = (announcesRejected.untrusted_leader ?? 0) + 1;
      log.debug(`ignored an announce from ${from.address}:${from.port} naming ${a.leaderAddr}, which is not a known master`);
      return;
    }
    announcesAccepted++;
    if (s && verdict.seq !== null) {
      if (verdict.announce.term > s.lastAnnounceTerm) {
        s.lastAnnounceTerm = verdict.announce.term;
        s.lastAnnounceSeq = verdict.seq;
      } else s.lastAnnounceSeq = Math.max(s.lastAnnounceSeq, verdict.seq);
    }
    if (a.reportIntervalMs !== reporter.intervalMs) {
      log.info(`master asks for a report every ${a.reportIntervalMs / 1000} s (was ${reporter.intervalMs / 1000} s)`);
      reporter.setIntervalMs(a.reportIntervalMs);
    }
    if (a.leaderAddr !== lastLeaderAddr) {
      lastLeaderAddr = a.leaderAddr;
      const leader = learnt(a.leaderAddr);
      const current = sessionMaster ? formatHostPort(sessionMaster) : null;
      if (leader && formatHostPort(leader) !== current) {
        leaderHint = leader;
        // Only a leader announces, signed with our session key (which every master can derive):
        // its announces come from its report socket, so reports go there at once and its live
        // load is complete within one report interval, long before the channel moves over.
        if (s && (s.target.ip !== from.address || s.target.port !== from.port)) {
          reporter.retarget({ ip: from.address, port: from.port });
          log.info(`the leader is now ${formatHostPort(leader)}: reports go to ${from.address}:${from.port}; the control channel follows within ${seconds(policy.minMs)}`);
        }
        followLeader();
      }
    }
    const c = conn;
    if (
      verdict.membership === "inactive" &&
      c !== null &&
      c.registeredAt !== null &&
      sessionMaster === c.master &&
      now() - c.registeredAt >= forgottenGraceMs
    ) {
      log.warn(`master ${formatHostPort(c.master)} no longer lists host id ${s?.hostId}; registering again`);
      c.end("the master forgot this host", { reconnectNow: true });
    }
  }

  // ---- lifecycle

  return {
    async start() {
      if (state !== "idle") throw new Error("agent already started");
      const listed = parseMasterList(config.master);
      scheme = defaultScheme(listed, config.tls !== undefined);
      masters = listed.map((m) => withScheme(m, scheme));
      const probe = v.safeParse(RegisterSchema, registerMessage(1));
      if (!probe.success) {
        throw new Error(`cannot register as "${hostname}": ${v.summarize(probe.issues)} (set agent.hostname or --hostname)`);
      }
      for (const m of masters) trustedMasters.add(trustKey(m));
      if (!config.insecure) {
        try {
          hostKey = await loadOrCreateHostKey(stateDir);
        } catch (e) {
          throw new Error(`${errorText(e)} (state directory ${stateDir}: set agent.stateDir or --state-dir)`);
        }
        const kept = readSessionToken(stateDir);
        // Its expiry is checked by the master; an expired one is answered 401 and dropped.
        if (kept) sessionToken = { token: kept, expiresAtMs: 0 };
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
      state = "connecting";
      health.start();
      alerts.start();
      telemetry?.start();
      // /proc trouble shows in the reporter; checked as often as reports go out.
      statusTimer = setInterval(guard(updateAgentStatus), Math.max(1000, reporter.intervalMs));
      loop = controlLoop().catch((e) => {
        log.error(`control loop failed: ${errorText(e)}`);
      });
    },

    async stop(reason = "agent stopping") {
      if (stopping) {
        await loop;
        return;
      }
      stopping = true;
      stopSignal();
      if (followTimer) clearTimeout(followTimer);
      if (refreshTimer) clearTimeout(refreshTimer);
      if (statusTimer) clearInterval(statusTimer);
      wake?.();
      alerts.stop();
      telemetry?.stop();
      // Jobs, commands, check commands, log streams and an update under way first, while the channel may still carry their last messages.
      await Promise.all([runner.stop(reason), executor.stop(reason), health.stop(), logs.stopAll(), updater.stop()]);
      if (fenceTimer) clearInterval(fenceTimer);
      jobHost.stop();
      const c = conn;
      // A clean stop: the master shows this host offline at once instead of after 3 silent intervals.
      if (c && c.registeredAt !== null) c.send({ type: "status", status: "offline", detail: reason.slice(0, 500) });
      c?.end("agent stopping");
      await loop;
      if (c) await c.closed;
      reporter?.close();
      state = "stopped";
      log.info("agent stopped");
    },

    status() {
      const s = reporter?.session ?? null;
      const js = runner.stats();
      const shown = state === "registered" || state === "waiting" ? sessionMaster : (connecting ?? sessionMaster);
      return {
        state,
        master: shown ? formatHostPort(shown) : null,
        hostId: s?.hostId ?? null,
        seq: s?.seq ?? 0,
        reportIntervalMs: reporter?.intervalMs ?? Math.round(config.interval * 1000),
        reportPort: reporter?.port ?? 0,
        registrations,
        reportsSent: reporter?.counters.reportsSent ?? 0,
        reportsSentTcp: reporter?.counters.reportsSentTcp ?? 0,
        reportTransport: reporter?.transport ?? "udp",
        reportsSkipped: reporter?.counters.reportsSkipped ?? 0,
        announcesAccepted,
        announcesRejected: { ...announcesRejected },
        invalidMessages: invalidMessagesDone + (conn?.invalidMessages ?? 0),
        leaderHint: leaderHint ? formatHostPort(leaderHint) : null,
        lastProblem,
        jobsRunning: js.running,
        jobsPending: js.pending,
        jobsFinished: js.finished,
        jobEventsUnacked: js.outbox,
        commandsRunning: executor.stats().running,
        commandResultsKept: executor.stats().resultsKept,
        logStreams: logs.active(),
        alertsFiring: alerts.firing().length,
        alertEvaluations: alerts.evaluations,
        healthReportsSent: health.sent,
        agentStatus: stopping ? "offline" : agentStatus,
        hostKey: hostKey?.fingerprint ?? null,
        usingSessionToken: sessionToken !== null,
      };
    },

    restartRequested,
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/**
 * Honouring Retry-After (design §4): Bun's WebSocket client does not expose
 * the 503's headers, so after a refused upgrade the agent asks the master's
 * /healthz for its current admission wait (the same number Retry-After
 * carries) and waits at least that long, spread by up to half again so the
 * refused agents do not come back together. Best effort: 0 if it cannot tell.
 */
export async function admissionDelayMs(m: HostPort, rng: Rng, tls?: ClientTls, resume = false): Promise<number> {
  try {
    const res = await fetch(`${httpUrl(m)}/healthz`, { tls, signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { wsRetryAfterMs?: unknown; wsResumeRetryAfterMs?: unknown };
    // With a session token the upgrade waits in the resume bucket (older masters have only one).
    const raw = resume && body.wsResumeRetryAfterMs !== undefined ? body.wsResumeRetryAfterMs : body.wsRetryAfterMs;
    const wait = typeof raw === "number" && Number.isFinite(raw) ? Math.min(Math.max(0, raw), 600_000) : 0;
    return Math.round(wait * (1 + 0.5 * rng()));
  } catch {
    return 0;
  }
}
