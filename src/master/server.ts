/**
 * Starts a master: the UDP report listener, the optional TCP report
 * listener, the HTTP API with the /ws control channel, and the announce and
 * heartbeat timers. All I/O of the master lives here and in run.ts; the
 * decisions live in the pure modules it wires together.
 */
import { writeFileSync, existsSync, readFileSync } from "node:fs";
import { prepareDataDir } from "./data-dir.ts";
import { hostname as osHostname } from "node:os";
import { join, resolve } from "node:path";
import type { Server, TCPSocketListener, udp } from "bun";
import { isSessionToken, jwtKey as deriveJwtKey, loadOrCreateSecret, newTokenId, signToken, tokenHash, writePrivateFile } from "../auth/index.ts";
import { defaultDataDir, explainFailure, masterTls, peerLink, type MasterConfig, type PeerLink } from "../config/index.ts";
import { logger } from "../log/index.ts";
import { LavaError } from "../errors.ts";
import { HostTable } from "./hosts/table.ts";
import { Ingest } from "./ingest.ts";
import { ControlSessions, CLOSE_SESSION_REVOKED, SWEEP_MS, type WsData } from "./control/sessions.ts";
import { Refusals } from "./control/refusals.ts";
import { auditText } from "./requests/audit.ts";
import { TokenGate } from "./tokens.ts";
import { buildRouter, writeRefusalRows } from "./http/api.ts";
import { noteClientIp } from "./http/client-ip.ts";
import { RefusalAudit } from "./audit/refusals.ts";
import { HttpError, errorResponse } from "./http/errors.ts";
import { announceFor, planRound, type AnnounceRound } from "./announce.ts";
import { readUdpDrops } from "./kernel.ts";
import { AdmissionBucket } from "./admission.ts";
import { KeyedMac } from "./mac.ts";
import type { MasterContext } from "./context.ts";
import { MasterState } from "./state.ts";
import { bodyHash } from "./raft/peer-auth.ts";
import { JobManager } from "./jobs/manager.ts";
import { Remote } from "./requests/remote.ts";
import { listenTcpReports, tcpIdleMs, TcpGate } from "./tcp-reports.ts";
import { LiveSync, SYNC_FRESH_MS } from "./sync/index.ts";
import { syncRoutes } from "./http/sync-api.ts";
import { ApprovalExpiry } from "./approvals/expiry.ts";
import { expiredApprovalIds } from "../store/index.ts";
import { HistoryFile } from "./history/file.ts";
import { LoadTableWriter } from "./loadtable.ts";
import { TelemetryBook } from "./telemetry.ts";
import { unavailAfterMs } from "./hosts/status.ts";
import type { HostEntry } from "./hosts/table.ts";

const log = logger("master");

export interface MasterHandle {
  ctx: MasterContext;
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

  const hosts = new HostTable({ indexSources: config.insecure });
  const state = new MasterState(dataDir, hosts, loaded.secret);

  const mac = new KeyedMac();
  const ingest = new Ingest(hosts, { insecure: config.insecure, verify: mac.verify });
  const gate = new TokenGate(jwtKey, config.insecure, () => nowMs() / 1000, state.revoked);
  // Live load to the other masters (MASTER_SYNC); its peers and signatures come from replication once it runs.
  const sync = new LiveSync({
    hosts,
    nodeId: config.nodeId,
    peers: () => {
      const m = state.replication.members;
      return m.voters.filter((id) => id !== config.nodeId && m.addrs[id]).map((id) => ({ id, addr: m.addrs[id]! }));
    },
    link: peers,
    sign: (path, body) => state.replication.auth.sign(config.nodeId, advertise, "POST", path, bodyHash(body)).headers,
    nowMs,
  });
  const policy = { reportIntervalMs: config.reportInterval * 1000, busy: config.busy };
  // Soft state beside the durable state: load history and the shared-memory load table (docs/history.md).
  // Either failing to open (a full disk, a bad directory) costs that feature, never the master.
  const history = openSoft("load history", () => (config.history.enabled ? new HistoryFile({ dataDir, nowMs: nowMs(), reportHeartbeatMs: unavailAfterMs(policy) }) : null));
  const loadTable = openSoft("load table", () => (config.loadTable.enabled ? new LoadTableWriter(dataDir, policy, { nodeId: config.nodeId, pid: process.pid }) : null));
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
    state.close();
    throw new LavaError(`cannot listen on UDP ${config.bind}:${config.udpPort}: ${e.message}; choose another --udp-port`, "usage");
  });
  const udpPort = udpSocket.port;

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
      udpSocket.close();
      state.close();
      throw new LavaError(`cannot listen on TCP ${config.bind}:${config.tcpReportPort} for reports: ${(e as Error).message}; choose another --tcp-report-port`, "usage");
    }
  }

  const ctx = {} as MasterContext;
  const controlRefusals = new Refusals();
  const sessions = new ControlSessions({
    hosts,
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
        return [...new Set([advertise, ...Object.values(state.replication.members.addrs)])];
      } catch {
        return [advertise];
      }
    },
    reportIntervalMs: config.reportInterval * 1000,
    udpPort,
    tcpReportPort: tcpListener?.port ?? null,
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
  let remote: Remote;
  try {
    remote = new Remote({ config, hosts, send: (hostId, msg) => sessions.sendTo(hostId, msg), nowMs });
  } catch (e) {
    tcpListener?.stop(true);
    udpSocket.close();
    state.close();
    throw e;
  }
  state.onHostRemoved = (hostId) => {
    history?.remove(hostId);
    telemetry.remove(hostId);
    sessions.disconnect(hostId, "host removed by an admin");
    remote.onHostRemoved(hostId);
  };
  state.onHostSessionsRevoked = (hostId, why) => sessions.disconnect(hostId, why, CLOSE_SESSION_REVOKED);
  state.onTokenRevoked = (jti) => sessions.revokeToken(jti);
  const jobs = new JobManager(config, state, hosts, policy, { send: (hostId, msg) => sessions.sendTo(hostId, msg) }, nowMs);
  jobs.onRefusedEvent = (reason) => controlRefusals.count(reason);
  state.onJobApplied = (a) => jobs.onApplied(a);
  state.onReload = () => jobs.reload();
  state.onLeadership = (leading) => {
    sync.leadership(leading, state.replication.driver.status().term);
    jobs.setLeader(leading);
    // Agents must talk to the leader: it alone runs their jobs and commands.
    if (!leading) sessions.handOff(state.replication.leaderAddr);
  };
  const admission = new AdmissionBucket(config.wsAdmitPerSec, nowMs);
  const resumeAdmission = new AdmissionBucket(config.wsResumePerSec, nowMs);
  const refusals = new RefusalAudit();
  const router = buildRouter(ctx, refusals);
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
  /** A follower answers these from its own table while the leader's live load reaches it (docs/replication.md). */
  const SOFT_READS = /^\/api\/v1\/(load|status|hosts|hosts\/[^/]+)$/;
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
        noteClientIp(req, srv.requestIP(req)?.address);
        // The leader holds the agents' channels and takes the writes: a follower forwards the API to it,
        // but for the live reads it can answer from the leader's stream (MASTER_SYNC) while that is fresh.
        if ((url.pathname.startsWith("/api/v1/") || url.pathname === "/_raft/force-resync") && !state.isLeader && state.clustered) {
          const ageMs = req.method === "GET" && SOFT_READS.test(url.pathname) ? syncedAgeMs() : null;
          if (ageMs === null) return proxyToLeader(req, url, state, config.nodeId, peers);
          const res = await router.handle(req);
          res.headers.set("x-lava-served-by", advertise);
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
    tcpListener?.stop(true);
    udpSocket.close();
    state.close();
    throw new LavaError(`cannot listen on HTTP ${config.bind}:${config.httpPort}: ${(e as Error).message}; choose another --http-port`, "usage");
  }
  const httpPort = server.port!;

  const advertise = config.advertise ?? `${config.bind === "0.0.0.0" || config.bind === "::" ? osHostname() : config.bind}:${httpPort}`;
  Object.assign(ctx, {
    config,
    dataDir,
    hosts,
    state,
    ingest,
    sessions,
    gate,
    jwtKey,
    policy,
    nowMs,
    startedMs: nowMs(),
    nodeId: config.nodeId,
    udpPort,
    httpPort,
    advertise,
    kernelDrops: () => readUdpDrops(udpPort),
    kernelAtStart: readUdpDrops(udpPort),
    admission,
    resumeAdmission,
    jobs,
    udpErrors: () => udpSendErrors,
    announceErrors: () => announceSendErrors,
    tcpReports: tcpListener ? tcpGate.counters : null,
    sync,
    remote,
    holdOpen: (req: Request) => server.timeout(req, 0),
    history,
    telemetry,
  } satisfies MasterContext);

  const repl = state.startReplication(config, advertise, peers);
  sync.start();
  const approvalExpiry = new ApprovalExpiry({ isLeader: () => state.isLeader, expired: (now) => expiredApprovalIds(state.store.db, now), propose: (cmd) => state.propose(cmd), nowMs });
  approvalExpiry.start();
  await ensureAdminToken(state, join(dataDir, "admin.token"), jwtKey, nowMs, loaded.created ? secretPath : null);

  // Announces: one round per announceInterval, sent in slices every ANNOUNCE_SLICE_MS (see announce.ts).
  const ANNOUNCE_SLICE_MS = 100;
  const slices = Math.max(1, Math.round((config.announceInterval * 1000) / ANNOUNCE_SLICE_MS));
  /**
   * The first round after this master became leader goes out within
   * FIRST_ROUND_MS instead of over the whole interval: agents point their
   * reports here as soon as they hear it, so the new leader's live load is
   * complete one report interval after that.
   */
  const FIRST_ROUND_MS = 500;
  let announceSeq = 0;
  let announceSendErrors = 0;
  let round: AnnounceRound | null = null;
  let slice = 0;
  let spread = slices;
  let wasLeader = false;
  const announce = setInterval(
    () => {
      try {
        // Only the leader announces: agents follow the announces to it (design §2, §6).
        if (!state.isLeader) {
          round = null;
          slice = 0;
          wasLeader = false;
          return;
        }
        if (slice === 0 || !round) {
          round = planRound(hosts.values(), { nodeId: ctx.nodeId, term: repl.driver.status().term, addr: advertise, reportIntervalMs: policy.reportIntervalMs }, ++announceSeq);
          spread = wasLeader ? slices : Math.max(1, Math.min(slices, Math.round(FIRST_ROUND_MS / ANNOUNCE_SLICE_MS)));
          wasLeader = true;
        }
        const per = Math.ceil(round.hosts.length / spread);
        for (const host of round.hosts.slice(slice * per, (slice + 1) * per)) {
          const bytes = announceFor(round, host, mac.sign);
          if (!bytes) continue;
          // A stopped agent's closed port comes back as ECONNREFUSED on a later send, thrown
          // here: that host's problem, counted, never a reason to skip the rest of the slice.
          try {
            udpSocket.send(bytes, host.reportPort, host.reportIp);
          } catch (e) {
            host.announceErrors++;
            announceSendErrors++;
            log.debug(`announce to ${host.hostname} (${host.reportIp}:${host.reportPort}) failed: ${(e as Error).message}`);
          }
        }
      } catch (e) {
        log.error("announce round failed", e);
      }
      slice = (slice + 1) % slices;
    },
    Math.min(ANNOUNCE_SLICE_MS, config.announceInterval * 1000),
  );
  const heartbeat = setInterval(() => sessions.heartbeat(), config.pingInterval * 1000);
  // Repeated refusals are written as one row when their window ends (audit/refusals.ts).
  const refusalFlush = setInterval(() => writeRefusalRows(state, refusals.flush(nowMs()), nowMs), 1000);
  const tableSweep = loadTable ? setInterval(() => loadTable.sweep(hosts.values(), (id) => hosts.byHostId(id), nowMs()), 1000) : null;
  loadTable?.sweep(hosts.values(), (id) => hosts.byHostId(id), nowMs());
  const sweep = setInterval(() => sessions.sweep(), SWEEP_MS);

  writeFileSync(join(dataDir, RUN_FILE), JSON.stringify({ pid: process.pid, httpPort, udpPort, tcpReportPort: tcpListener?.port ?? null, advertise }) + "\n");
  log.info(`master listening: ${tls ? "HTTPS" : "HTTP"} ${config.bind}:${httpPort}, UDP ${config.bind}:${udpPort}${tcpListener ? `, TCP reports ${tcpListener.port}` : ""}${config.insecure ? " (INSECURE: no authentication)" : ""}; data in ${dataDir}`);

  return {
    ctx,
    httpPort,
    udpPort,
    tcpReportPort: tcpListener?.port ?? null,
    async stop() {
      clearInterval(announce);
      clearInterval(heartbeat);
      clearInterval(refusalFlush);
      sync.stop();
      approvalExpiry.stop();
      if (tableSweep) clearInterval(tableSweep);
      clearInterval(sweep);
      jobs.stop();
      remote.stop();
      sessions.closeAll();
      tcpListener?.stop(true);
      udpSocket.close();
      await server.stop(true);
      state.close();
      history?.close();
    },
  };
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

/**
 * A follower's API answers come from the leader: the request is sent on as
 * it came (token included) and the leader's answer, streamed bodies too,
 * goes back. A request that was forwarded once is never forwarded again
 * (leadership moving under it): it gets a 503 saying whom to ask.
 */
async function proxyToLeader(req: Request, url: URL, state: MasterState, selfId: number, peers: PeerLink): Promise<Response> {
  const leader = state.replication.leaderAddr;
  if (!leader || req.headers.has(FORWARDED_HEADER)) {
    return errorResponse(new HttpError(503, "not_leader", leader ? `this master is a follower; ask the leader at ${leader}` : "no leader is elected right now (an election is under way, or no majority of masters is up); retry shortly", { leader }));
  }
  const headers = new Headers(req.headers);
  headers.delete("host");
  headers.delete("content-length");
  headers.set(FORWARDED_HEADER, String(selfId));
  let res: Response;
  try {
    res = await fetch(`${peers.scheme}://${leader}${url.pathname}${url.search}`, {
      tls: peers.tls,
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer(),
      redirect: "manual",
    });
  } catch (e) {
    return errorResponse(new HttpError(503, "not_leader", `the leader at ${leader} did not answer (${explainFailure(e, peers.scheme, "master.tls.ca")}); retry shortly`, { leader }));
  }
  const out = new Headers(res.headers);
  // fetch() has already decoded the body.
  out.delete("content-encoding");
  out.delete("content-length");
  out.set("x-lava-served-by", leader);
  return new Response(res.body, { status: res.status, headers: out });
}

const FORWARDED_HEADER = "x-lava-forwarded-by";

/**
 * First start: an admin token in <data-dir>/admin.token (mode 0600). The
 * file is written at once (it is a JWT on the cluster secret, valid on every
 * master); its record, which `lava ctl token list` shows, goes through the
 * log as soon as a leader can take it.
 */
async function ensureAdminToken(state: MasterState, path: string, jwtKey: Uint8Array, nowMs: () => number, createdSecret: string | null): Promise<void> {
  if (existsSync(path)) return;
  const iat = Math.floor(nowMs() / 1000);
  const jti = newTokenId();
  const record = () => state.propose({ type: "token.create", at: nowMs(), actor: "master", actorRole: "admin", jti, role: "admin", subject: "admin", issuedAt: iat });
  if (!state.clustered) await record();
  else {
    const retry = () => record().catch(() => setTimeout(retry, 500));
    void retry();
  }
  writePrivateFile(path, signToken({ sub: "admin", role: "admin", jti, iat }, jwtKey) + "\n");
  log.info(`${createdSecret ? "created the cluster secret " + createdSecret + " and " : "created "}an admin token in ${path} (mode 0600)`);
}

/** Reads the run file a master wrote (tests and scripts/start use it). */
export function readRunFile(dataDir: string): { pid: number; httpPort: number; udpPort: number; tcpReportPort: number | null; advertise: string } | null {
  try {
    return JSON.parse(readFileSync(join(dataDir, RUN_FILE), "utf8"));
  } catch {
    return null;
  }
}
