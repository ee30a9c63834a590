/**
 * The control channels this master holds: host id → the socket of its
 * current session. ControlSessions (sessions.ts) puts a socket here when a
 * registration completes and takes it out when the session ends; the job
 * manager, remote requests and routes send through it. It is a table of
 * its own so that those can be built before the sessions that deliver
 * their agents' messages to them (src/master/server.ts).
 */
import type { ServerWebSocket } from "bun";
import type { Claims } from "../../auth/index.ts";

export interface WsData {
  /** The token that governs this connection: the one it opened with, then its session token once it has one. */
  claims: Claims;
  /** sha256 (base64) of the bearer token the connection opened with: what the register proof binds. */
  tokenHash: string;
  ip: string;
  hostId: number;
  /** Pings sent since the last pong. */
  missed: number;
  connectedAtMs: number;
  /** When this socket's current registration completed. */
  registeredAtMs: number;
  /** A register was received on this connection (one per connection). */
  registerSeen?: boolean;
  /** The agent proved a host key: it understands session tokens. */
  keyed?: boolean;
  lastRefreshMs?: number;
}

export type AgentSocket = ServerWebSocket<WsData>;

export class AgentChannels {
  private readonly sockets = new Map<number, AgentSocket>();

  get size(): number {
    return this.sockets.size;
  }

  get(hostId: number): AgentSocket | undefined {
    return this.sockets.get(hostId);
  }

  set(hostId: number, ws: AgentSocket): void {
    this.sockets.set(hostId, ws);
  }

  delete(hostId: number): void {
    this.sockets.delete(hostId);
  }

  values(): IterableIterator<AgentSocket> {
    return this.sockets.values();
  }

  /** Sends on a host's current session; false if it has none. */
  sendTo(hostId: number, msg: unknown): boolean {
    const ws = this.sockets.get(hostId);
    if (!ws) return false;
    send(ws, msg);
    return true;
  }
}

export function send(ws: AgentSocket, msg: unknown): void {
  ws.send(JSON.stringify(msg));
}
