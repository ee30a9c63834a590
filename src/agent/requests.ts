/**
 * What answers the master's requests and reports on its own (docs/api.md
 * "Agent requests"), built once for the agent's life; requests come only
 * from the registered session (agent.ts checks the connection) and
 * everything goes out through `send`, which only a registered session
 * takes.
 *
 * `execute` → exec/ (its command_output while it runs, one command_result;
 * results that find no session are kept, bounded, and sent after the next
 * registration); `deploy` → exec/ too (agent.deploy.<name>);
 * `health_check` → health/ (also every agent.health.interval and once after
 * each registration); `stream_logs` / `stop_logs` → logs/ (a stream belongs
 * to the connection it came on and ends with it); `update_agent` → update/
 * (on success `restartRequested` resolves and run.ts stops the agent and
 * re-executes the new binary). alerts/ evaluates agent.alerts.rules every
 * agent.alerts.interval; telemetry/ sends every agent.telemetry.interval.
 * What the agent says of itself (self-status.ts: online / degraded) is
 * sent when it changes.
 */
import { join } from "node:path";
import type { ClientTls, AgentConfig } from "../config/index.ts";
import type { AgentHealthStatus, AgentMessage, AgentRequest } from "../control/index.ts";
import { logger } from "../log/index.ts";
import { httpBase, type ControlConnection } from "./control.ts";
import type { AgentDeps } from "./deps.ts";
import { createAlertMonitor } from "./alerts/index.ts";
import { createExecutor } from "./exec/index.ts";
import { collectHealth, createHealthMonitor, fullestDiskPercent, readDisks, type DiskSource } from "./health/index.ts";
import { commandEnv, currentUser, type JobRunner } from "./jobs/index.ts";
import { createLogStreamer } from "./logs/index.ts";
import { ProcSampler } from "./procfs/index.ts";
import { SelfStatus, type StatusMessage } from "./self-status.ts";
import type { AgentStatus } from "./status.ts";
import { createTelemetryMonitor, TelemetryCollector } from "./telemetry/index.ts";
import { createUpdater, isCompiledBinary, type RestartPlan } from "./update/index.ts";

const log = logger("agent");

export interface RequestPartsOptions {
  config: AgentConfig;
  deps: AgentDeps;
  hostname: string;
  now: () => number;
  wallClock: () => number;
  configFile: string | null;
  env: NonNullable<AgentDeps["env"]>;
  tls: ClientTls | undefined;
  /** The job runner (`peek_job`). */
  runner: JobRunner;
  /** Sends on the registered session; false if there is none. */
  send: (msg: AgentMessage) => boolean;
  /** The token downloads from the master carry (the connection's). */
  token: () => string | undefined;
  /** /proc cannot be read (the reporter's problem): the agent is degraded. */
  procProblem: () => boolean;
}

export type RequestStats = Pick<AgentStatus, "commandsRunning" | "commandResultsKept" | "logStreams" | "alertsFiring" | "alertEvaluations" | "healthReportsSent">;

export interface RequestParts {
  /** A request from the registered session `c`. */
  handle(msg: AgentRequest, c: ControlConnection): void;
  start(): void;
  /** After each registration, following the job messages: the kept command results, the alerts still firing, a health report. */
  afterRegistration(): void;
  /** The connection `c` ended: its log streams end with it. */
  connectionEnded(c: ControlConnection): void;
  /** Looks at /proc and the health checks again; sends `status` if it changed (every report interval). */
  updateSelfStatus(): void;
  /** The `status` that follows each registration. */
  selfStatus(): StatusMessage;
  readonly agentStatus: AgentHealthStatus;
  stats(): RequestStats;
  /** Kills running commands, ends log streams and an update under way (`reason` goes into results); resolves when they are down. */
  stop(reason: string): Promise<void>;
  /** Resolves once an `update_agent` has put a verified new binary in place. */
  readonly restartRequested: Promise<RestartPlan>;
}

export function createRequestParts(o: RequestPartsOptions): RequestParts {
  const { config, deps, now, wallClock, configFile, env } = o;
  const startedAt = now();
  let stopping = false;
  const executor = createExecutor({ ...deps.exec, allow: config.exec.allow, deploy: config.deploy, outputLimitBytes: config.exec.outputLimit, configFile, send: o.send, env });
  const disks: DiskSource = { mountsPath: deps.health?.mountsPath ?? join(config.procRoot, "mounts"), ...(deps.health?.statfs ? { statfs: deps.health.statfs } : {}) };
  // Agent status (online / degraded / offline): from the health checks and whether /proc can be read.
  const self = new SelfStatus();
  function updateSelfStatus(): void {
    if (stopping) return;
    const before = self.status;
    const msg = self.update(o.procProblem());
    if (!msg) return;
    if (self.status !== before) log.info(`agent status: ${self.status}${self.detail ? ` (${self.detail})` : ""}`);
    o.send(msg);
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
        env: commandEnv(env, currentUser()),
        uptimeMs: now() - startedAt,
        signal,
      }),
    send: (m) => {
      self.observeHealth(m);
      updateSelfStatus();
      return o.send(m);
    },
    wallClock,
  });
  // Its own sampler: the alerts' cpu is the delta between two evaluations, independent of the report timing.
  const alertSampler = new ProcSampler(config.procRoot);
  const alerts = createAlertMonitor({
    hostname: o.hostname,
    rules: config.alerts.rules,
    intervalMs: config.alerts.interval * 1000,
    sample: () => alertSampler.sample({ running: 0, pending: 0 }, 0),
    diskPercent: () => fullestDiskPercent(readDisks(disks)),
    send: o.send,
    now,
    wallClock,
  });
  const logs = createLogStreamer({ ...deps.logs, allow: config.logs.allow, units: config.logs.units, configFile, env });
  const telemetryCollector = new TelemetryCollector({ procRoot: config.procRoot, containerSockets: config.telemetry.containerSockets, ...deps.telemetry }, config.telemetry.interval * 1000);
  const telemetry = config.telemetry.enabled
    ? createTelemetryMonitor({ intervalMs: config.telemetry.interval * 1000, collect: () => telemetryCollector.collect(now(), wallClock()), send: o.send })
    : null;
  let requestRestart!: (plan: RestartPlan) => void;
  const restartRequested = new Promise<RestartPlan>((r) => (requestRestart = r));
  const updater = createUpdater({
    execPath: deps.update?.execPath ?? process.execPath,
    compiled: deps.update?.compiled ?? isCompiledBinary(Bun.main),
    token: o.token,
    tls: o.tls,
    deliver: (r) => executor.deliver(r),
    onReady: (plan) => requestRestart(plan),
    env,
    ...(deps.update?.argv ? { argv: deps.update.argv } : {}),
    ...(deps.update?.versionCheckTimeoutMs ? { versionCheckTimeoutMs: deps.update.versionCheckTimeoutMs } : {}),
  });

  return {
    handle(msg, c) {
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
          c.send(o.runner.peek(msg));
          break;
      }
    },
    start() {
      health.start();
      alerts.start();
      telemetry?.start();
    },
    afterRegistration() {
      executor.flush();
      alerts.onRegistered();
      health.onRegistered();
    },
    connectionEnded(c) {
      logs.ownerGone(c);
    },
    updateSelfStatus,
    selfStatus: () => self.message(),
    get agentStatus() {
      return stopping ? "offline" : self.status;
    },
    stats() {
      const ex = executor.stats();
      return {
        commandsRunning: ex.running,
        commandResultsKept: ex.resultsKept,
        logStreams: logs.active(),
        alertsFiring: alerts.firing().length,
        alertEvaluations: alerts.evaluations,
        healthReportsSent: health.sent,
      };
    },
    async stop(reason) {
      stopping = true;
      alerts.stop();
      telemetry?.stop();
      await Promise.all([executor.stop(reason), health.stop(), logs.stopAll(), updater.stop()]);
    },
    restartRequested,
  };
}
