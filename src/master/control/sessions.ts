/**
 * The control channel's master side (design §4): the register/registered
 * handshake, one session per hostname, ping every pingInterval and a session
 * dropped after two missed pongs. Every message is parsed by its schema; a
 * bad one is answered with an error and never ends the connection handler.
 *
 * Who may speak (docs/security.md, "Control channel: host identity and
 * sessions"): one connection registers one host, once; the host proves its
 * host key (identity.ts) and a known host bound to another key is refused;
 * registrations that write are rate-limited per token and per address; a
 * registered host gets a session token (bound to its name, key and session
 * generation) that it refreshes here and reconnects with, and a reconnect
 * with it that changes nothing resumes the session without a write. A
 * connection lives only as long as the token that governs it: revoked or
 * expired, it is closed within SWEEP_MS.
 */
import { agentSessionClaims, isSessionToken, sessionKey, newTokenId, signToken, type Claims } from "../../auth/index.ts";
import { AgentMessageSchema, TELEMETRY_LIMITS, parseMessage, type AgentReport, type AgentStatus, type AgentStatusMessage, type JobEvent, type Register, type Telemetry } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import type { HostEntry, HostTable } from "../hosts/table.ts";
import { checkProof, decideBinding, NonceCache, type HostKeyPolicy } from "./identity.ts";
import { AuditThrottle, KeyedRateLimit } from "./limits.ts";
import { Refusals, type RefusalReason } from "./refusals.ts";
import { send, type AgentChannels, type AgentSocket, type WsData } from "./channels.ts";

export type { AgentSocket, WsData } from "./channels.ts";

const log = logger("control");


export interface IdentityPolicy {
  insecure: boolean;
  hostKeys: HostKeyPolicy;
  maxHosts: number;
  sessionTokenTtlSec: number;
  registrations: { perToken: number; perAddress: number; burst: number };
}

export interface SessionDeps {
  hosts: HostTable;
  /** Where each host's current session is: filled here, read by whoever sends to agents. */
  channels: AgentChannels;
  secret: Uint8Array;
  reportIntervalMs: number;
  udpPort: number;
  /** The TCP report port handed to agents in `registered`, or null when there is none. */
  tcpReportPort?: number | null;
  nowMs: () => number;
  /**
   * Makes the host's record durable (a `host.register` command through the
   * log) and resolves once the host table holds it; rejects if state cannot
   * be written.
   */
  persistHost: (msg: Register, claims: Claims, session: { nonce: string; reportIp: string; reportPort: number }, extra: { hostKey?: string; maxHosts: number }) => Promise<void>;
  jwtKey: Uint8Array;
  identity: IdentityPolicy;
  refusals: Refusals;
  /** Token ids revoked so far (the sweep closes connections governed by one). */
  revoked: ReadonlySet<string>;
  /** Writes an audit row (refusals worth an operator's attention; rate-limited by the caller). */
  audit: (claims: Claims, action: string, target: string, result: string, detail: string) => void;
  /** "host:port" of every master of the cluster (told to agents in `registered`). */
  masters: () => string[];
  /** Job traffic from a registered agent. */
  onJobEvent?: (hostId: number, ev: JobEvent) => Promise<void>;
  onStatus?: (hostId: number, st: AgentStatus, registeredAtMs: number) => Promise<void>;
  /** Command output and results, health, alerts, log lines from a registered agent. */
  onReport?: (hostId: number, msg: AgentReport) => void;
  /**
   * Whether this master takes registrations now; a follower answers the
   * agent with the leader's address instead (it would not be able to run
   * its jobs or commands).
   */
  refuseRegistration?: () => { detail: string; leader: string | null } | null;
  /** A host's session ended (closed, dead, replaced by a new one is not an end). */
  onDisconnected?: (hostId: number) => void;
  /** jobs.lostAfter, told to agents in `registered` (they fence their jobs after half of it without a master). */
  lostAfterMs?: number;
  /** followSpreadMs told to agents in `registered` and pings (src/master/admission.ts): how to spread a move to a new leader. */
  followSpreadMs?: () => number;
  /** A host completed a registration (a new session; `replaced` if it had one open). */
  onRegistered?: (hostId: number, msg: Register, replaced: boolean) => void;
  /** Telemetry from a registered session, about its own host (never written durably). */
  onTelemetry?: (hostId: number, msg: Telemetry) => void;
}

export const CLOSE_REPLACED = 4000;
export const CLOSE_DEAD = 4001;
export const CLOSE_REFUSED = 4003;
/** This master is not the leader (any more): the error message before it names the leader. */
export const CLOSE_NOT_LEADER = 4004;
/** The session token is no longer good (revoked, generation raised, host removed): reconnect with the join token. */
export const CLOSE_SESSION_REVOKED = 4005;
/** The host name is bound to another host key: `lava ctl host reset-key HOST`. */
export const CLOSE_HOST_KEY = 4006;
/** The token governing the connection expired or was revoked. */
export const CLOSE_TOKEN_ENDED = 4007;
/** Registrations from this token or address come too fast: retry after a backoff. */
export const CLOSE_RATE_LIMITED = 4029;

/** How often connections are checked against their token's expiry and revocation. */
export const SWEEP_MS = 250;
/** Session refreshes one connection may ask for, at most one per this many ms. */
const REFRESH_MIN_GAP_MS = 1000;

export class ControlSessions {
  /** hostId → the socket of its current session. */
  private readonly sockets: AgentChannels;
  private readonly pending = new Set<AgentSocket>();
  private readonly nonces = new NonceCache();
  private readonly perToken: KeyedRateLimit;
  private readonly perAddress: KeyedRateLimit;
  /** Host-key mismatches are audited, at most one row per host name a minute. */
  private readonly mismatchAudits = new AuditThrottle(60_000, 1, 100);
  /** Registrations resumed without a write (session token, nothing changed). */
  resumed = 0;

  constructor(private readonly deps: SessionDeps) {
    this.sockets = deps.channels;
    const r = deps.identity.registrations;
    this.perToken = new KeyedRateLimit(r.perToken, r.burst);
    this.perAddress = new KeyedRateLimit(r.perAddress, r.burst);
  }

  get refused(): Record<RefusalReason, number> {
    return this.deps.refusals.snapshot();
  }

  get count(): number {
    return this.sockets.size;
  }

  socketOf(hostId: number): AgentSocket | undefined {
    return this.sockets.get(hostId);
  }

  /** Sends on a host's current session; false if it has none. */
  sendTo(hostId: number, msg: unknown): boolean {
    return this.sockets.sendTo(hostId, msg);
  }

  open(ws: AgentSocket): void {
    this.pending.add(ws);
  }

  message(ws: AgentSocket, raw: string | Buffer): void {
    const parsed = parseMessage(AgentMessageSchema, raw);
    if (!parsed.ok) {
      log.debug(`bad control message from ${ws.data.ip}: ${parsed.detail}`);
      send(ws, { type: "error", error: parsed.error, detail: parsed.detail });
      return;
    }
    const msg = parsed.message;
    if (msg.type === "pong") {
      ws.data.missed = 0;
      return;
    }
    if (msg.type === "job_event" || msg.type === "status" || msg.type === "session_refresh") {
      const hostId = ws.data.hostId;
      if (!hostId || this.sockets.get(hostId) !== ws) {
        send(ws, { type: "error", error: "not_registered", detail: `send register before ${msg.type}` });
        return;
      }
      if (msg.type === "session_refresh") {
        this.refresh(ws, hostId);
        return;
      }
      const done = msg.type === "job_event" ? this.deps.onJobEvent?.(hostId, msg) : this.onAgentStatus(ws, hostId, msg);
      done?.catch((e: Error) => log.error(`${msg.type} from host ${hostId} failed: ${e.message}`));
      return;
    }
    if (msg.type === "command_output" || msg.type === "command_result" || msg.type === "health" || msg.type === "alert" || msg.type === "log_line" || msg.type === "logs_end" || msg.type === "job_output") {
      const hostId = ws.data.hostId;
      if (!hostId || this.sockets.get(hostId) !== ws) {
        send(ws, { type: "error", error: "not_registered", detail: `send register before ${msg.type}` });
        return;
      }
      this.deps.onReport?.(hostId, msg);
      return;
    }
    if (msg.type === "telemetry") {
      const hostId = ws.data.hostId;
      if (!hostId || this.sockets.get(hostId) !== ws) {
        send(ws, { type: "error", error: "not_registered", detail: "send register before telemetry" });
        return;
      }
      const bytes = typeof raw === "string" ? Buffer.byteLength(raw) : raw.length;
      if (bytes > TELEMETRY_LIMITS.bytes) {
        send(ws, { type: "error", error: "too_large", detail: `telemetry of ${bytes} bytes; at most ${TELEMETRY_LIMITS.bytes}` });
        return;
      }
      this.deps.onTelemetry?.(hostId, msg);
      return;
    }
    if (msg.type === "register") {
      // One connection registers one host, once: a second register (any name) is refused.
      if (ws.data.registerSeen) {
        this.refuse(ws, "one_host_per_connection", "forbidden", "one connection registers one host, once; open another connection", CLOSE_REFUSED);
        return;
      }
      ws.data.registerSeen = true;
      this.register(ws, msg).catch((e: Error) => {
        log.error(`registration of ${msg.hostname} failed: ${e.message}`);
        send(ws, { type: "error", error: "unavailable", detail: `the master cannot register hosts right now: ${e.message}` });
        ws.close(1011, "registration failed");
      });
      return;
    }
  }

  private refuse(ws: AgentSocket, reason: RefusalReason, error: string, detail: string, code: number): void {
    this.deps.refusals.count(reason);
    log.debug(`refused ${reason} from ${ws.data.ip}: ${detail}`);
    send(ws, { type: "error", error, detail });
    ws.close(code, reason);
  }

  /** The agent's own status, and/or the jobs it runs (reconciled by the job manager). */
  private async onAgentStatus(ws: AgentSocket, hostId: number, msg: AgentStatusMessage): Promise<void> {
    const host = this.deps.hosts.byHostId(hostId);
    if (host && msg.status) {
      if (host.agentStatus !== msg.status) log.info(`host ${host.hostname} says it is ${msg.status}${msg.detail ? `: ${msg.detail}` : ""}`);
      host.agentStatus = msg.status;
      host.agentStatusDetail = msg.detail ?? null;
    }
    if (msg.jobs) await this.deps.onStatus?.(hostId, { type: "status", jobs: msg.jobs } satisfies AgentStatus, ws.data.registeredAtMs);
  }

  /** A session token for `host`, bound to its name, key and session generation. */
  private issueSessionToken(host: HostEntry, sub: string): { token: string; claims: Claims; expiresAtMs: number } {
    const claims = agentSessionClaims({
      sub,
      host: host.hostname,
      jti: newTokenId(),
      nowSec: this.deps.nowMs() / 1000,
      ttlSec: this.deps.identity.sessionTokenTtlSec,
      hostKeyFingerprint: host.hostKey,
      sessionGen: host.sessionGen,
    });
    return { token: signToken(claims, this.deps.jwtKey), claims, expiresAtMs: claims.exp! * 1000 };
  }

  private refresh(ws: AgentSocket, hostId: number): void {
    const host = this.deps.hosts.byHostId(hostId);
    const now = this.deps.nowMs();
    if (!host || this.deps.identity.insecure) {
      send(ws, { type: "error", error: "unavailable", detail: "no session tokens here (--insecure master)" });
      return;
    }
    if (ws.data.lastRefreshMs !== undefined && now - ws.data.lastRefreshMs < REFRESH_MIN_GAP_MS) {
      send(ws, { type: "error", error: "rate_limited", detail: "at most one session refresh a second" });
      return;
    }
    ws.data.lastRefreshMs = now;
    const t = this.issueSessionToken(host, ws.data.claims.sub);
    // From now on this connection lives as long as the new token (refreshed again before it ends).
    ws.data.claims = t.claims;
    send(ws, { type: "session_token", token: t.token, expiresAtMs: t.expiresAtMs });
  }

  /**
   * Closes connections whose governing token expired or was revoked (run
   * every SWEEP_MS, and at once for a revocation). Cheap: one comparison
   * per connection.
   */
  sweep(): void {
    const nowSec = this.deps.nowMs() / 1000;
    for (const ws of [...this.sockets.values(), ...this.pending]) {
      const c = ws.data.claims;
      if (this.deps.revoked.has(c.jti)) this.endByToken(ws, "token_revoked", `token ${c.jti} was revoked`);
      else if (c.exp !== undefined && nowSec >= c.exp) this.endByToken(ws, "token_expired", `token ${c.jti} expired`);
    }
  }

  /** A token was revoked: its connections end now. */
  revokeToken(jti: string): void {
    for (const ws of [...this.sockets.values(), ...this.pending]) if (ws.data.claims.jti === jti) this.endByToken(ws, "token_revoked", `token ${jti} was revoked`);
  }

  private endByToken(ws: AgentSocket, reason: "token_revoked" | "token_expired", detail: string): void {
    this.deps.refusals.count(reason);
    send(ws, { type: "error", error: reason, detail: `${detail}; the connection ends` });
    this.detach(ws);
    ws.close(CLOSE_TOKEN_ENDED, reason);
  }

  /**
   * Takes a socket out of the tables (before it closes, so nothing is routed
   * to it meanwhile): its host, if this was its session, is disconnected now.
   * Returns that host.
   */
  private detach(ws: AgentSocket): HostEntry | undefined {
    this.pending.delete(ws);
    const id = ws.data.hostId;
    ws.data.hostId = 0;
    if (!id || this.sockets.get(id) !== ws) return undefined;
    this.sockets.delete(id);
    const host = this.deps.hosts.byHostId(id);
    if (!host) return undefined;
    this.deps.hosts.setConnected(host, false);
    host.channelElsewhereUntilMs = 0;
    host.disconnectedAtMs = this.deps.nowMs();
    this.deps.onDisconnected?.(id);
    return host;
  }

  close(ws: AgentSocket, code: number, reason: string): void {
    const id = ws.data.hostId;
    const host = this.detach(ws);
    if (host) log.info(`host ${host.hostname} (id ${id}) control channel closed (${code}${reason ? ` ${reason}` : ""})`);
  }

  /**
   * One slice of a heartbeat round (`slice` of `slices`; the defaults: the
   * whole round at once): drop the sessions of the slice that missed two
   * pongs, ping the rest. A round is sent in slices (server.ts, pingSlices)
   * so that 10,000 pings and their pongs do not hold the event loop for a
   * quarter of a second at once: a leader that stalls that long can lose
   * its followers' votes, and then every agent moves. Each host is in the
   * slice of its id, so each is still pinged once per pingInterval;
   * connections not registered yet are in slice 0.
   */
  heartbeat(slice = 0, slices = 1): void {
    const now = this.deps.nowMs();
    const spreadMs = this.deps.followSpreadMs?.();
    const due: AgentSocket[] = [];
    for (const ws of this.sockets.values()) if (ws.data.hostId % slices === slice) due.push(ws);
    if (slice === 0) due.push(...this.pending);
    for (const ws of due) {
      if (ws.data.missed >= 2) {
        ws.close(CLOSE_DEAD, "missed 2 pings");
        continue;
      }
      ws.data.missed++;
      // What arrived of this session's reports, by transport: an agent in reportTransport auto moves to TCP when UDP reports do not.
      const s = ws.data.hostId ? this.deps.hosts.byHostId(ws.data.hostId)?.session : undefined;
      send(ws, { type: "ping", ts: now, ...(s ? { reports: { udp: s.received - s.receivedTcp, tcp: s.receivedTcp } } : {}), ...(spreadMs !== undefined ? { followSpreadMs: spreadMs } : {}) });
    }
  }

  private async register(ws: AgentSocket, msg: Register): Promise<void> {
    const claims = ws.data.claims;
    const deps = this.deps;
    const policy = deps.identity;
    if (claims.host && claims.host !== msg.hostname) {
      this.refuse(ws, "token_host", "forbidden", `this token is bound to host '${claims.host}', not '${msg.hostname}'`, CLOSE_REFUSED);
      return;
    }
    const refused = deps.refuseRegistration?.();
    if (refused) {
      send(ws, { type: "error", error: "not_leader", detail: refused.detail, ...(refused.leader ? { leader: refused.leader } : {}) });
      ws.close(CLOSE_NOT_LEADER, "not the leader");
      return;
    }
    const hosts = deps.hosts;
    const session = isSessionToken(claims);
    const known = hosts.byHostname(msg.hostname);
    if (session && (!known || known.sessionGen !== claims.sgen)) {
      this.refuse(ws, "session_revoked", "session_revoked", `this session token is no longer valid for '${msg.hostname}' (its sessions were revoked, its key reset, or it was removed); register with the join token`, CLOSE_SESSION_REVOKED);
      return;
    }

    // Host identity: the proof first (bound to this connection's token), then what it means for the binding.
    let fingerprint: string | null = null;
    if (msg.hostKey || msg.proof) {
      const proof = await checkProof(msg, ws.data.tokenHash, deps.nowMs(), this.nonces);
      if (ws.readyState !== 1) return;
      if (!proof.ok) {
        this.refuse(ws, proof.reason, "forbidden", proof.detail, CLOSE_REFUSED);
        return;
      }
      fingerprint = proof.fingerprint;
    }
    ws.data.tokenHash = ""; // only the proof needed it: 10,000 sessions need not keep it
    if (session && claims.hkf !== undefined && claims.hkf !== fingerprint) {
      this.refuse(ws, "session_revoked", "session_revoked", "this session token was issued to another host key; register with the join token", CLOSE_SESSION_REVOKED);
      return;
    }
    const binding = decideBinding(msg.hostname, known?.hostKey, fingerprint, policy.hostKeys, policy.insecure);
    if (binding.kind === "refuse") {
      if (binding.reason === "host_key_mismatch" && this.mismatchAudits.allow(msg.hostname, deps.nowMs())) {
        deps.audit(claims, "host.register", msg.hostname, "refused: host key mismatch", `${binding.detail} (from ${ws.data.ip})`);
      }
      log.warn(`refused a registration of ${msg.hostname} from ${ws.data.ip}: ${binding.detail}`);
      this.refuse(ws, binding.reason, "forbidden", binding.detail, binding.reason === "host_key_mismatch" ? CLOSE_HOST_KEY : CLOSE_REFUSED);
      return;
    }

    // A session token, the key it was issued to, and nothing changed: resume the recorded session, no write.
    const resume =
      session &&
      known?.session != null &&
      binding.kind === "match" &&
      known.reportIp === ws.data.ip &&
      known.reportPort === msg.reportPort &&
      known.version === msg.version &&
      sameHardware(known, msg);
    if (!resume) {
      // What writes is rate-limited: per token (session tokens are one host's each) and per source address.
      const now = deps.nowMs();
      if (!this.perAddress.take(ws.data.ip, now) || (!session && !this.perToken.take(claims.jti, now))) {
        this.refuse(ws, "rate_limited", "rate_limited", "too many registrations from this token or address; retry later", CLOSE_RATE_LIMITED);
        return;
      }
      if (!known && hosts.size >= policy.maxHosts) {
        this.refuse(ws, "too_many_hosts", "too_many_hosts", `the cluster has ${hosts.size} hosts, master.maxHosts is ${policy.maxHosts}; an admin removes hosts ('lava ctl host remove') or raises master.maxHosts`, CLOSE_REFUSED);
        return;
      }
    }

    let host: HostEntry;
    let key: Uint8Array;
    let reportSeq: number | undefined;
    if (resume) {
      host = known!;
      key = known!.session!.key;
      reportSeq = known!.session!.lastSeq;
      this.resumed++;
    } else {
      // Every other registration goes through the log with its new session (group-committed), so a
      // restarted master or a new leader can verify this agent's reports without waiting for it.
      const nonce = newTokenId();
      await deps.persistHost(msg, claims, { nonce, reportIp: ws.data.ip, reportPort: msg.reportPort }, { ...(binding.kind === "bind" ? { hostKey: binding.fingerprint } : {}), maxHosts: policy.maxHosts });
      if (ws.readyState !== 1) return; // went away while we were writing
      const record = hosts.byHostname(msg.hostname);
      if (!record) throw new Error(`host ${msg.hostname} vanished during registration (removed concurrently)`);
      key = sessionKey(deps.secret, record.hostId, nonce);
      host = record.session?.nonce === nonce ? record : hosts.attachSession(msg.hostname, { reportIp: ws.data.ip, reportPort: msg.reportPort, nonce, key })!;
    }
    const oldSocket = this.sockets.get(host.hostId);
    hosts.setConnected(host, true);
    host.agentStatus = "online";
    host.agentStatusDetail = null;
    if (oldSocket && oldSocket !== ws) {
      this.sockets.delete(host.hostId);
      oldSocket.data.hostId = 0;
      oldSocket.close(CLOSE_REPLACED, "replaced by a new registration");
    }
    ws.data.hostId = host.hostId;
    ws.data.registeredAtMs = deps.nowMs();
    ws.data.keyed = fingerprint !== null;
    this.pending.delete(ws);
    this.sockets.set(host.hostId, ws);
    // A session token for every registration; an agent that proved a key understands it, so its
    // connection is governed by it from now on (a join token revoked later does not cut it off).
    const t = policy.insecure ? null : this.issueSessionToken(host, claims.sub);
    if (t && ws.data.keyed) ws.data.claims = t.claims;
    send(ws, {
      type: "registered",
      hostId: host.hostId,
      sessionKey: Buffer.from(key).toString("base64"),
      reportIntervalMs: deps.reportIntervalMs,
      udpPort: deps.udpPort,
      ...(deps.tcpReportPort ? { tcpReportPort: deps.tcpReportPort } : {}),
      ...(t ? { sessionToken: t.token, sessionExpiresAtMs: t.expiresAtMs } : {}),
      ...(reportSeq !== undefined ? { reportSeq } : {}),
      masters: deps.masters().slice(0, 16),
      ...(deps.lostAfterMs !== undefined ? { lostAfterMs: deps.lostAfterMs } : {}),
      ...(deps.followSpreadMs ? { followSpreadMs: deps.followSpreadMs() } : {}),
    });
    deps.onRegistered?.(host.hostId, msg, oldSocket !== undefined && oldSocket !== ws);
    log.info(`host ${host.hostname} ${resume ? "resumed its session" : "registered"} (id ${host.hostId}, from ${ws.data.ip}, reports from port ${msg.reportPort}${fingerprint ? `, key ${fingerprint}` : ", no host key"}${oldSocket ? ", replacing its previous session" : ""})`);
  }

  /** Ends a host's session (host removed by an admin; CLOSE_SESSION_REVOKED: its sessions revoked). */
  disconnect(hostId: number, reason: string, code = CLOSE_REFUSED): void {
    const ws = this.sockets.get(hostId);
    if (!ws) return;
    send(ws, { type: "error", error: code === CLOSE_SESSION_REVOKED ? "session_revoked" : "removed", detail: reason });
    this.detach(ws);
    ws.close(code, reason);
  }

  /** This master stopped leading: every agent is sent to the new leader (when known) and its session closed. */
  handOff(leader: string | null): void {
    for (const ws of [...this.sockets.values(), ...this.pending]) {
      send(ws, { type: "error", error: "not_leader", detail: leader ? `the leader is now ${leader}` : "this master is no longer the leader", ...(leader ? { leader } : {}) });
      ws.close(CLOSE_NOT_LEADER, "not the leader");
    }
  }

  closeAll(): void {
    for (const ws of [...this.sockets.values(), ...this.pending]) ws.close(1001, "master shutting down");
  }
}

function sameHardware(h: HostEntry, msg: Register): boolean {
  const a = h.hardware;
  const b = msg.hardware;
  return a.ncpus === b.ncpus && a.memBytes === b.memBytes && (a.gpus ?? 0) === (b.gpus ?? 0) && (a.os ?? null) === (b.os ?? null);
}

