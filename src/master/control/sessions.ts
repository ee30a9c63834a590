/**
 * The control channel's master side (design §4): the register/registered
 * handshake, one session per hostname, ping every pingInterval and a session
 * dropped after two missed pongs. Every message is parsed by its schema; a
 * bad one is answered with an error and never ends the connection handler.
 */
import type { ServerWebSocket } from "bun";
import { sessionKey, newTokenId, type Claims } from "../../auth/index.ts";
import { AgentMessageSchema, TELEMETRY_LIMITS, parseMessage, type AgentReport, type AgentStatus, type JobEvent, type Register, type Telemetry } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import type { HostEntry, HostTable } from "../hosts/table.ts";

const log = logger("control");

export interface WsData {
  claims: Claims;
  ip: string;
  hostId: number;
  /** Pings sent since the last pong. */
  missed: number;
  connectedAtMs: number;
  /** When this socket's current registration completed. */
  registeredAtMs: number;
}

export type AgentSocket = ServerWebSocket<WsData>;

export interface SessionDeps {
  hosts: HostTable;
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
  persistHost: (msg: Register, claims: Claims, session: { nonce: string; reportIp: string; reportPort: number }) => Promise<void>;
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

export class ControlSessions {
  /** hostId → the socket of its current session. */
  private readonly sockets = new Map<number, AgentSocket>();
  private readonly pending = new Set<AgentSocket>();

  constructor(private readonly deps: SessionDeps) {}

  get count(): number {
    return this.sockets.size;
  }

  socketOf(hostId: number): AgentSocket | undefined {
    return this.sockets.get(hostId);
  }

  /** Sends on a host's current session; false if it has none. */
  sendTo(hostId: number, msg: unknown): boolean {
    const ws = this.sockets.get(hostId);
    if (!ws) return false;
    send(ws, msg);
    return true;
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
    if (msg.type === "job_event" || msg.type === "status") {
      const hostId = ws.data.hostId;
      if (!hostId || this.sockets.get(hostId) !== ws) {
        send(ws, { type: "error", error: "not_registered", detail: `send register before ${msg.type}` });
        return;
      }
      const done = msg.type === "job_event" ? this.deps.onJobEvent?.(hostId, msg) : this.deps.onStatus?.(hostId, msg, ws.data.registeredAtMs);
      done?.catch((e: Error) => log.error(`${msg.type} from host ${hostId} failed: ${e.message}`));
      return;
    }
    if (msg.type === "command_output" || msg.type === "command_result" || msg.type === "health" || msg.type === "alert" || msg.type === "log_line" || msg.type === "logs_end") {
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
      this.register(ws, msg).catch((e: Error) => {
        log.error(`registration of ${msg.hostname} failed: ${e.message}`);
        send(ws, { type: "error", error: "unavailable", detail: `the master cannot register hosts right now: ${e.message}` });
        ws.close(1011, "registration failed");
      });
      return;
    }
  }

  close(ws: AgentSocket, code: number, reason: string): void {
    this.pending.delete(ws);
    const id = ws.data.hostId;
    if (id && this.sockets.get(id) === ws) {
      this.sockets.delete(id);
      const host = this.deps.hosts.byHostId(id);
      if (host) {
        host.connected = false;
        host.channelElsewhereUntilMs = 0;
        host.disconnectedAtMs = this.deps.nowMs();
        this.deps.onDisconnected?.(id);
        log.info(`host ${host.hostname} (id ${id}) control channel closed (${code}${reason ? ` ${reason}` : ""})`);
      }
    }
  }

  /** One heartbeat round: drop sessions that missed two pongs, ping the rest. */
  heartbeat(): void {
    const now = this.deps.nowMs();
    for (const ws of [...this.sockets.values(), ...this.pending]) {
      if (ws.data.missed >= 2) {
        ws.close(CLOSE_DEAD, "missed 2 pings");
        continue;
      }
      ws.data.missed++;
      // What arrived of this session's reports, by transport: an agent in reportTransport auto moves to TCP when UDP reports do not.
      const s = ws.data.hostId ? this.deps.hosts.byHostId(ws.data.hostId)?.session : undefined;
      send(ws, s ? { type: "ping", ts: now, reports: { udp: s.received - s.receivedTcp, tcp: s.receivedTcp } } : { type: "ping", ts: now });
    }
  }

  private async register(ws: AgentSocket, msg: Register): Promise<void> {
    const claims = ws.data.claims;
    if (claims.host && claims.host !== msg.hostname) {
      send(ws, { type: "error", error: "forbidden", detail: `this token is bound to host '${claims.host}', not '${msg.hostname}'` });
      ws.close(CLOSE_REFUSED, "token bound to another host");
      return;
    }
    const refused = this.deps.refuseRegistration?.();
    if (refused) {
      send(ws, { type: "error", error: "not_leader", detail: refused.detail, ...(refused.leader ? { leader: refused.leader } : {}) });
      ws.close(CLOSE_NOT_LEADER, "not the leader");
      return;
    }
    const hosts = this.deps.hosts;
    // Every registration goes through the log with its new session (group-committed), so a
    // restarted master or a new leader can verify this agent's reports without waiting for it.
    const nonce = newTokenId();
    await this.deps.persistHost(msg, claims, { nonce, reportIp: ws.data.ip, reportPort: msg.reportPort });
    if (ws.readyState !== 1) return; // went away while we were writing
    const record = hosts.byHostname(msg.hostname);
    if (!record) throw new Error(`host ${msg.hostname} vanished during registration (removed concurrently)`);
    const oldSocket = this.sockets.get(record.hostId);
    const key = sessionKey(this.deps.secret, record.hostId, nonce);
    const host = record.session?.nonce === nonce ? record : hosts.attachSession(msg.hostname, { reportIp: ws.data.ip, reportPort: msg.reportPort, nonce, key })!;
    host.connected = true;
    if (oldSocket && oldSocket !== ws) {
      this.sockets.delete(host.hostId);
      oldSocket.data.hostId = 0;
      oldSocket.close(CLOSE_REPLACED, "replaced by a new registration");
    }
    if (ws.data.hostId && ws.data.hostId !== host.hostId) this.sockets.delete(ws.data.hostId);
    ws.data.hostId = host.hostId;
    ws.data.registeredAtMs = this.deps.nowMs();
    this.pending.delete(ws);
    this.sockets.set(host.hostId, ws);
    send(ws, {
      type: "registered",
      hostId: host.hostId,
      sessionKey: Buffer.from(key).toString("base64"),
      reportIntervalMs: this.deps.reportIntervalMs,
      udpPort: this.deps.udpPort,
      ...(this.deps.tcpReportPort ? { tcpReportPort: this.deps.tcpReportPort } : {}),
    });
    this.deps.onRegistered?.(host.hostId, msg, oldSocket !== undefined && oldSocket !== ws);
    log.info(`host ${host.hostname} registered (id ${host.hostId}, from ${ws.data.ip}, reports from port ${msg.reportPort}${oldSocket ? ", replacing its previous session" : ""})`);
  }

  /** Ends a host's session (host removed by an admin). */
  disconnect(hostId: number, reason: string): void {
    const ws = this.sockets.get(hostId);
    if (!ws) return;
    this.sockets.delete(hostId);
    ws.data.hostId = 0;
    ws.close(CLOSE_REFUSED, reason);
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

export function send(ws: AgentSocket, msg: unknown): void {
  ws.send(JSON.stringify(msg));
}
