/**
 * Starts a master: the composition root. Each part is built after what it
 * needs and registers its close on one disposal stack as it is made; a
 * failure part-way closes what was opened, in reverse, and stop() closes
 * everything the same way. The parts: the durable state (SQLite behind
 * Raft), the soft state beside it (load history, the shared-memory load
 * table), the UDP and TCP report listeners, the control channel's sessions
 * with the job manager and remote requests they feed, the HTTP API (each
 * route group given what it uses), then the replication, which applies
 * commands to all of them, and the timers. All I/O of the master lives here
 * and in the adapters it wires; the decisions live in the pure modules.
 *
 * Two cycles are real and closed explicitly: the HTTP server serves routes
 * that report its address (HttpEndpoint, set right after the bind), and the
 * replication needs that address while it applies commands to the parts
 * built before it (MasterState.startReplication takes their StateEffects).
 * The control channel and the parts that send to agents meet in
 * AgentChannels, built first, so neither needs the other later.
 */
import { writeFileSync, existsSync, readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join, resolve } from "node:path";
import type { Server, TCPSocketListener, udp } from "bun";
import { isSessionToken, jwtKey as deriveJwtKey, loadOrCreateSecret, tokenHash } from "../auth/index.ts";
import { defaultDataDir, masterTls, peerLink, type MasterConfig } from "../config/index.ts";
import { LavaError } from "../errors.ts";
import { logger } from "../log/index.ts";
import { expiredApprovalIds } from "../store/index.ts";
import { ensureAdminToken } from "./admin-token.ts";
import { AdmissionBucket, followSpreadMs, pingSlices } from "./admission.ts";
import { Announcer } from "./announcer.ts";
import { ApprovalExpiry } from "./approvals/expiry.ts";
import { RefusalAudit } from "./audit/refusals.ts";
import { AgentChannels, type WsData } from "./control/channels.ts";
import { Refusals } from "./control/refusals.ts";
import { ControlSessions, CLOSE_SESSION_REVOKED, SWEEP_MS } from "./control/sessions.ts";
import { prepareDataDir } from "./data-dir.ts";
import { HISTORY_TICK_MS, HistoryFile } from "./history/file.ts";
import { unavailAfterMs } from "./hosts/status.ts";
import { HostTable, type HostEntry } from "./hosts/table.ts";
import { approvalRoutes } from "./http/approvals-api.ts";
import { auditRoutes } from "./http/audit-api.ts";
import { changeRoutes, writeRefusalRows } from "./http/change.ts";
import { noteClientIp } from "./http/client-ip.ts";
import { dashboardRoutes } from "./http/dashboard.ts";
import { deployRoutes } from "./http/deploy-api.ts";
import { HttpError, errorResponse } from "./http/errors.ts";
import { execRoutes, type ExecDeps } from "./http/exec-api.ts";
import { healthRoutes } from "./http/health-api.ts";
import { historyRoutes } from "./http/history-api.ts";
import { hostRoutes } from "./http/hosts-api.ts";
import { jobRoutes } from "./http/jobs-api.ts";
import { logsRoutes } from "./http/logs-api.ts";
import { proxyToLeader, SERVED_BY_HEADER } from "./http/proxy.ts";
import { raftRoutes } from "./http/raft-api.ts";
import { Router } from "./http/router.ts";
import { statusRoutes } from "./http/status-api.ts";
import { syncRoutes } from "./http/sync-api.ts";
import { targetResolver, type AgentLink } from "./http/targets.ts";
import { telemetryRoutes } from "./http/telemetry-api.ts";
import { tokenRoutes } from "./http/tokens-api.ts";
import { upgradeRoutes } from "./http/upgrade-api.ts";
import { Ingest } from "./ingest.ts";
import { JobManager } from "./jobs/manager.ts";
import { readUdpDrops } from "./kernel.ts";
import { LoadTableWriter } from "./loadtable.ts";
import { KeyedMac } from "./mac.ts";
import { bodyHash } from "./raft/peer-auth.ts";
import { healthPolicy } from "./raft/status.ts";
import { auditText } from "./requests/audit.ts";
import { Remote } from "./requests/remote.ts";
import { MasterState } from "./state.ts";
import { LiveSync, SYNC_FRESH_MS } from "./sync/index.ts";
import { listenTcpReports, tcpIdleMs, TcpGate } from "./tcp-reports.ts";
import { TelemetryBook } from "./telemetry.ts";
import { TokenGate } from "./tokens.ts";

const log = logger("master");

export interface MasterHandle {
  httpPort: number;
  udpPort: number;
  tcpReportPort: number | null;
  stop(): Promise<void>;
}

/** Runtime facts for scripts and tests: which ports a master with port 0 got. */
export const RUN_FILE = "master.json";

/** What only the command line says, for this start alone (not configuration). */
export interface StartOptions {
  /** Start with empty state although the data dir held a master's state before (data-dir.ts). */
  reinit?: boolean;
}

/** A follower answers these from its own table while the leader's live load reaches it (docs/replication.md). */
const SOFT_READS = /^\/api\/v1\/(load|status|hosts|hosts\/[^/]+)$/;

/**
 * The HTTP server, bound after the routes it serves are built: some of
 * them report its address (status, the masters agents are told of) or lift
 * its idle timeout for a long stream. Set once, right after Bun.serve
 * returns and before any request is handled (handlers run on a later turn
 * of the event loop); used before that it is a programmer error.
 */
class HttpEndpoint {
  private server: Server<WsData> | null = null;
  private addr = "";

  bind(server: Server<WsData>, config: MasterConfig): void {
    this.server = server;
    this.addr = config.advertise ?? `${config.bind === "0.0.0.0" || config.bind === "::" ? osHostname() : config.bind}:${server.port}`;
  }

  private bound(): Server<WsData> {
    if (!this.server) throw new Error("master: the HTTP server is not bound yet");
    return this.server;
  }

  get port(): number {
    return this.bound().port!;
  }

  /** "host:port" agents and ctl use to reach this master. */
  get advertise(): string {
    this.bound();
    return this.addr;
  }

  /** Lifts the HTTP idle timeout for a long streamed answer (exec, logs -f, upgrade). */
  holdOpen(req: Request): void {
    this.bound().timeout(req, 0);
  }
}

export async function startMaster(config: MasterConfig, opts: StartOptions = {}): Promise<MasterHandle> {
  // Before anything is opened: a bad certificate file is a configuration error (exit 2).
  const tls = masterTls(config.tls);
  const peers = peerLink(tls);
  const dataDir = resolve(config.dataDir ?? defaultDataDir());
  const secretPath = config.secretFile ? resolve(config.secretFile) : join(dataDir, "secret");
  const prepared = prepareDataDir(dataDir, { reinit: opts.reinit ?? false, secretExisted: existsSync(secretPath) });
  for (const w of prepared.warnings) log.warn(w);
  const loaded = loadOrCreateSecret(secretPath);
  if (loaded.warning) log.warn(loaded.warning);
  const jwtKey = deriveJwtKey(loaded.secret);
  const nowMs = () => Date.now();
  const startedMs = nowMs();
  const policy = { reportIntervalMs: config.reportInterval * 1000, busy: config.busy };

  // From here on, whatever is opened registers its close: leaving this function by an error closes it all, in reverse.
  await using stack = new AsyncDisposableStack();

  // The shared-memory load table (docs/history.md), soft state like the history below: before the host table,
  // which tells it of every host added, changed and removed as it happens. Failing to open costs the feature only.
  const loadTable = openSoft("load table", () => (config.loadTable.enabled ? new LoadTableWriter(dataDir, policy, { nodeId: config.nodeId, pid: process.pid }) : null));
  // Durable state: the database, and the host table and revoked tokens loaded from it.
  const hosts = new HostTable({ indexSources: config.insecure, ...(loadTable ? { changes: loadTable.changes(nowMs) } : {}) });
  const state = new MasterState(dataDir, hosts, loaded.secret);
  stack.defer(() => state.close());
  const propose = (cmd: Parameters<MasterState["propose"]>[0]) => state.propose(cmd);
  const barrier = () => state.linearizable();
  const db = state.store.db;

  const mac = new KeyedMac();
  const ingest = new Ingest(hosts, { insecure: config.insecure, verify: mac.verify });
  const gate = new TokenGate(jwtKey, config.insecure, () => nowMs() / 1000, state.revoked);
  // Live load to the other masters (MASTER_SYNC); its peers and signatures come from the replication once it runs.
  const sync = new LiveSync({
    hosts,
    nodeId: config.nodeId,
    peers: () => {
      const m = state.replication.members;
      return m.voters.filter((id) => id !== config.nodeId && m.addrs[id]).map((id) => ({ id, addr: m.addrs[id]! }));
    },
    link: peers,
    sign: (path, body) => state.replication.signRequest("POST", path, bodyHash(body)),
    nowMs,
  });
  // Soft state beside the durable state: load history (docs/history.md). Failing to open it (a full disk, a bad
  // directory) costs that feature, never the master.
  const history = openSoft("load history", () => (config.history.enabled ? new HistoryFile({ dataDir, nowMs: nowMs(), reportHeartbeatMs: unavailAfterMs(policy), flushIntervalMs: config.history.flushInterval * 1000 }) : null));
  if (history) stack.defer(() => history.close());
  const telemetry = new TelemetryBook(history);
  /** After every accepted report (UDP and TCP). */
  const accepted = (h: HostEntry, t: number) => {
    history?.onReport(h, t);
    loadTable?.onReport(h, t);
    sync.touch(h.hostId);
  };

  // UDP first: the control channel hands its port to agents.
  let udpSendErrors = 0;
  const udpSocket: udp.Socket<"buffer"> = await Bun.udpSocket({
    hostname: config.bind,
    port: config.udpPort,
    socket: {
      data(_s, buf, port, addr) {
        // Ingest reads a copy, never the Buffer itself (see Ingest.scratch).
        const t = nowMs();
        const h = ingest.handle(buf, addr, port, t);
        if (typeof h !== "string") accepted(h, t);
      },
      // An announce to an agent whose port is gone comes back as ICMP port
      // unreachable (ECONNREFUSED on the next recv). That is the agent's
      // problem, never a reason to stop: count it and carry on.
      // Bun passes the error alone here (the typings say (socket, error)): take whichever is an Error.
      error(...args: unknown[]) {
        udpSendErrors++;
        const err = args.find((a) => a instanceof Error) as Error | undefined;
        log.debug(`UDP: ${err?.message ?? "socket error"}`);
      },
    },
  }).catch((e: Error) => {
    throw new LavaError(`cannot listen on UDP ${config.bind}:${config.udpPort}: ${e.message}; choose another --udp-port`, "usage");
  });
  stack.defer(() => udpSocket.close());
  const udpPort = udpSocket.port;
  const kernelAtStart = readUdpDrops(udpPort);

  // The TCP report port, when configured, is handed to agents at registration too.
  const tcpGate = new TcpGate();
  let tcpListener: TCPSocketListener<unknown> | null = null;
  if (config.tcpReportPort > 0) {
    try {
      tcpListener = listenTcpReports(
        { hostname: config.bind, port: config.tcpReportPort, idleMs: tcpIdleMs(config.reportInterval * 1000), nowMs, onReport: (h) => {
          if (h.session) h.session.receivedTcp++;
          accepted(h, nowMs());
        } },
        ingest,
        tcpGate,
      ) as TCPSocketListener<unknown>;
    } catch (e) {
      throw new LavaError(`cannot listen on TCP ${config.bind}:${config.tcpReportPort} for reports: ${(e as Error).message}; choose another --tcp-report-port`, "usage");
    }
    const listener = tcpListener;
    stack.defer(() => listener.stop(true));
  }

  // Agents: the table of their channels first, then what sends to them, then the sessions that feed those.
  const channels = new AgentChannels();
  const remote = new Remote({ config, hosts, send: (hostId, msg) => channels.sendTo(hostId, msg), nowMs });
  stack.defer(() => remote.stop());
  const controlRefusals = new Refusals();
  const jobs = new JobManager(config, state, hosts, policy, { send: (hostId, msg) => channels.sendTo(hostId, msg), refused: (reason) => controlRefusals.count(reason) }, nowMs);
  stack.defer(() => jobs.stop());
  const http = new HttpEndpoint();
  const sessions = new ControlSessions({
    hosts,
    channels,
    secret: loaded.secret,
    jwtKey,
    identity: { insecure: config.insecure, hostKeys: config.hostKeys, maxHosts: config.maxHosts, sessionTokenTtlSec: config.sessionTokenTtl, registrations: config.registrations },
    refusals: controlRefusals,
    revoked: state.revoked,
    audit: (claims, action, target, result, detail) => {
      state
        .propose({ type: "audit.record", at: nowMs(), actor: claims.sub, actorRole: claims.role, action, target: auditText(target), result: auditText(result), detail: auditText(detail) })
        .catch((e: Error) => log.debug(`audit row for ${action} ${target} not written: ${e.message}`));
    },
    masters: () => {
      try {
        return [...new Set([http.advertise, ...Object.values(state.replication.members.addrs)])];
      } catch {
        return [http.advertise];
      }
    },
    reportIntervalMs: config.reportInterval * 1000,
    udpPort,
    tcpReportPort: tcpListener?.port ?? null,
    // Every host it knows (not only those connected now): right at once on a new leader, and an upper bound.
    followSpreadMs: () => followSpreadMs(hosts.size, config.wsResumePerSec),
    nowMs,
    onJobEvent: (hostId, ev) => jobs.onEvent(hostId, ev),
    onStatus: (hostId, st, at) => jobs.onStatus(hostId, st, at),
    onReport: (hostId, msg) => remote.onReport(hostId, msg),
    onDisconnected: (hostId) => {
      sync.touch(hostId);
      remote.onDisconnected(hostId);
    },
    onRegistered: (hostId, msg) => {
      sync.touch(hostId);
      jobs.onRegistered(hostId);
      remote.onRegistered(hostId, msg.hostname, msg.version);
    },
    onTelemetry: (hostId, msg) => {
      const h = hosts.byHostId(hostId);
      if (h) telemetry.onTelemetry(h, msg, nowMs());
    },
    lostAfterMs: Math.round(config.jobs.lostAfter * 1000),
    refuseRegistration: () =>
      state.isLeader || !state.clustered ? null : { detail: state.replication.leaderAddr ? `this master is a follower; register with the leader at ${state.replication.leaderAddr}` : "this master is a follower and no leader is elected yet; retry shortly", leader: state.replication.leaderAddr },
    async persistHost(msg, claims, session, extra) {
      const a = await state.propose({ type: "host.register", at: nowMs(), actor: claims.sub, actorRole: claims.role, hostname: msg.hostname, hardware: msg.hardware, version: msg.version, session, ...extra });
      if (!a.result.ok) throw new Error(a.result.detail);
    },
  });
  // Announces go out once this master leads and knows its address (started below, with the other timers).
  const announcer = new Announcer({
    hosts,
    nodeId: config.nodeId,
    addr: () => http.advertise,
    announceIntervalSec: config.announceInterval,
    reportIntervalMs: policy.reportIntervalMs,
    isLeader: () => state.isLeader,
    term: () => state.replication.driver.status().term,
    sign: mac.sign,
    send: (bytes, port, addr) => udpSocket.send(bytes, port, addr),
  });
  const admission = new AdmissionBucket(config.wsAdmitPerSec, nowMs);
  const resumeAdmission = new AdmissionBucket(config.wsResumePerSec, nowMs);

  // The HTTP API: each route group gets what it uses (docs/api.md).
  const refusals = new RefusalAudit();
  const router = new Router();
  const change = changeRoutes(router, { gate, propose, refusals, nowMs });
  const agents: AgentLink = { send: (hostId, msg) => channels.sendTo(hostId, msg), hasChannel: (hostId) => channels.get(hostId) !== undefined, requests: remote.router };
  const targets = targetResolver({ hosts, agents, queues: () => jobs.queues() });
  const holdOpen = (req: Request) => http.holdOpen(req);
  const exec: ExecDeps = { exec: config.exec, targets, agents, propose, holdOpen, nowMs };
  dashboardRoutes(router);
  statusRoutes(router, {
    self: { nodeId: config.nodeId, advertise: () => http.advertise, udpPort, startedMs, insecure: config.insecure },
    gate,
    hosts,
    policy,
    raftHealth: healthPolicy(config.raft),
    ingest: ingest.counters,
    counters: {
      udpErrors: () => udpSendErrors,
      announceErrors: () => announcer.sendErrors,
      tcpReports: tcpListener ? tcpGate.counters : null,
      kernelDrops: () => readUdpDrops(udpPort),
      kernelAtStart,
      refusalsSuppressed: () => refusals.suppressed,
    },
    sessions,
    admission,
    resumeAdmission,
    db,
    jobs,
    remote,
    state,
    sync,
    telemetry,
    history,
    nowMs,
  });
  hostRoutes(router, { gate, hosts, policy, barrier, startedMs, nowMs }, change);
  tokenRoutes(router, { gate, jwtKey, db, barrier, nowMs }, change);
  jobRoutes(router, { gate, db, barrier, jobs, hosts, agents, queues: config.queues, exec: config.exec, nowMs }, change);
  historyRoutes(router, { gate, hosts, history, nowMs });
  telemetryRoutes(router, { gate, hosts, telemetry, nowMs });
  raftRoutes(router, { state, nodeId: config.nodeId, raft: config.raft }, change);
  execRoutes(exec, change);
  healthRoutes(router, { gate, hosts, agents, health: remote.health, alerts: remote.alerts });
  logsRoutes({ hosts, agents, holdOpen }, change);
  upgradeRoutes(router, { gate, upgrade: config.upgrade, remote, targets, propose, holdOpen, nowMs }, change);
  approvalRoutes(router, { ...exec, gate, db, barrier }, change);
  deployRoutes({ targets, agents, propose, holdOpen, nowMs }, change);
  auditRoutes(router, { gate, db, barrier, nowMs });
  syncRoutes(router, {
    precheck: (req) => state.replication.auth.precheck(req.headers),
    verify: (req, path, body) => {
      const r = state.replication.auth.verify(req.headers, req.method, path, bodyHash(body));
      return r.ok ? { ok: true, from: r.from } : r;
    },
    sink: sync.sink,
    leader: () => {
      const st = state.replication.driver.status();
      return { id: st.leader, term: st.term };
    },
    nowMs,
  });
  function syncedAgeMs(): number | null {
    const st = state.replication.driver.status();
    const f = sync.sink.freshness(st.leader, st.term, nowMs());
    return f && f.ageMs <= SYNC_FRESH_MS ? f.ageMs : null;
  }

  let server: Server<WsData>;
  try {
    server = Bun.serve<WsData>({
      hostname: config.bind,
      port: config.httpPort,
      maxRequestBodySize: 64 * 2 ** 30, // snapshots; every other route bounds its own body (readJson)
      ...(tls ? { tls: tls.server } : {}),
      // Never Bun's HTML error page (stack frames, the cwd) for anyone, whatever NODE_ENV says.
      development: false,
      error(e) {
        log.error(`HTTP handler failed: ${e.message}`);
        return errorResponse(new HttpError(500, "internal", "the master failed to answer; see its log"));
      },
      async fetch(req, srv) {
        const url = new URL(req.url);
        noteClientIp(req, srv);
        // The leader holds the agents' channels and takes the writes: a follower forwards the API to it,
        // but for the live reads it can answer from the leader's stream (MASTER_SYNC) while that is fresh.
        if ((url.pathname.startsWith("/api/v1/") || url.pathname === "/_raft/force-resync") && !state.isLeader && state.clustered) {
          const ageMs = req.method === "GET" && SOFT_READS.test(url.pathname) ? syncedAgeMs() : null;
          if (ageMs === null) return proxyToLeader(req, url, state.replication.leaderAddr, config.nodeId, peers);
          const res = await router.handle(req);
          res.headers.set(SERVED_BY_HEADER, http.advertise);
          res.headers.set("x-lava-sync-age-ms", String(ageMs));
          return res;
        }
        if (url.pathname === "/ws") {
          try {
            const claims = gate.check(req, url, "agent", { queryToken: true });
            // Session tokens (agents coming back, resuming without a write) have a bucket of their own.
            const wait = (isSessionToken(claims) ? resumeAdmission : admission).take();
            if (wait > 0) return errorResponse(new HttpError(503, "busy", "too many agents connecting at once; retry later"), { "retry-after": String(Math.ceil(wait / 1000)) });
            const ip = srv.requestIP(req)?.address ?? "0.0.0.0";
            const data: WsData = { claims, tokenHash: tokenHash(TokenGate.tokenOf(req, url, true)), ip: ip.startsWith("::ffff:") ? ip.slice(7) : ip, hostId: 0, missed: 0, connectedAtMs: nowMs(), registeredAtMs: 0 };
            if (srv.upgrade(req, { data })) return undefined;
            return errorResponse(new HttpError(426, "upgrade_required", "/ws is a WebSocket endpoint"));
          } catch (e) {
            if (e instanceof HttpError) return errorResponse(e);
            throw e;
          }
        }
        return router.handle(req);
      },
      websocket: {
        maxPayloadLength: 1 << 20,
        idleTimeout: 0,
        open: (ws) => sessions.open(ws),
        message: (ws, msg) => sessions.message(ws, msg),
        close: (ws, code, reason) => sessions.close(ws, code, reason),
      },
    });
  } catch (e) {
    throw new LavaError(`cannot listen on HTTP ${config.bind}:${config.httpPort}: ${(e as Error).message}; choose another --http-port`, "usage");
  }
  http.bind(server, config);
  const httpPort = http.port;
  const advertise = http.advertise;
  // Agents hear first that the master goes (their open requests end saying so, their channels close with
  // 1001 so they come back at once), then the listener stops.
  stack.defer(async () => {
    remote.endRequests();
    sessions.closeAll();
    await server.stop(true);
  });

  // The replication applies commands from here on: to the state, and through these effects to what follows it.
  stack.defer(() => sync.stop());
  state.startReplication(config, advertise, peers, {
    hostRemoved: (hostId) => {
      history?.remove(hostId);
      telemetry.remove(hostId);
      sessions.disconnect(hostId, "host removed by an admin");
      remote.onHostRemoved(hostId);
    },
    hostSessionsRevoked: (hostId, why) => sessions.disconnect(hostId, why, CLOSE_SESSION_REVOKED),
    tokenRevoked: (jti) => sessions.revokeToken(jti),
    jobApplied: (a) => jobs.onApplied(a),
    reloaded: () => jobs.reload(),
    leadership: (leading) => {
      sync.leadership(leading, state.replication.driver.status().term);
      jobs.setLeader(leading);
      // Agents must talk to the leader: it alone runs their jobs and commands.
      if (!leading) sessions.handOff(state.replication.leaderAddr);
    },
  });
  sync.start();
  const approvalExpiry = new ApprovalExpiry({ isLeader: () => state.isLeader, expired: (now) => expiredApprovalIds(db, now), propose, nowMs });
  approvalExpiry.start();
  stack.defer(() => approvalExpiry.stop());
  await ensureAdminToken(state, join(dataDir, "admin.token"), jwtKey, nowMs, loaded.created ? secretPath : null);

  announcer.start();
  stack.defer(() => announcer.stop());
  const ping = pingSlices(config.pingInterval * 1000);
  let pingSlice = 0;
  every(stack, ping.tickMs, () => sessions.heartbeat(pingSlice++ % ping.slices, ping.slices));
  // Repeated refusals are written as one row when their window ends (audit/refusals.ts).
  every(stack, 1000, () => writeRefusalRows(propose, refusals.flush(nowMs()), nowMs));
  // Each host's history reaches the file once per master.history.flushInterval, a slice of them every tick.
  if (history) every(stack, HISTORY_TICK_MS, () => history.tick());
  if (loadTable) {
    every(stack, 1000, () => loadTable.heartbeat(nowMs()));
    loadTable.heartbeat(nowMs());
  }
  every(stack, SWEEP_MS, () => sessions.sweep());

  writeFileSync(join(dataDir, RUN_FILE), JSON.stringify({ pid: process.pid, httpPort, udpPort, tcpReportPort: tcpListener?.port ?? null, advertise }) + "\n");
  log.info(`master listening: ${tls ? "HTTPS" : "HTTP"} ${config.bind}:${httpPort}, UDP ${config.bind}:${udpPort}${tcpListener ? `, TCP reports ${tcpListener.port}` : ""}${config.insecure ? " (INSECURE: no authentication)" : ""}; data in ${dataDir}`);

  // Started: the stack now belongs to the handle, closed by stop() (once; a second call finds it closed).
  const running = stack.move();
  return { httpPort, udpPort, tcpReportPort: tcpListener?.port ?? null, stop: () => running.disposeAsync() };
}

/** A repeating timer, cleared when the stack closes. */
function every(stack: AsyncDisposableStack, ms: number, f: () => void): void {
  const t = setInterval(f, ms);
  stack.defer(() => clearInterval(t));
}

/** Opens a soft-state file; a failure is logged and the master goes on without it. */
function openSoft<T>(what: string, open: () => T | null): T | null {
  try {
    return open();
  } catch (e) {
    log.error(`cannot open the ${what}: ${(e as Error).message}; running without it`);
    return null;
  }
}

/** Reads the run file a master wrote (tests and scripts/start use it). */
export function readRunFile(dataDir: string): { pid: number; httpPort: number; udpPort: number; tcpReportPort: number | null; advertise: string } | null {
  try {
    return JSON.parse(readFileSync(join(dataDir, RUN_FILE), "utf8"));
  } catch {
    return null;
  }
}
