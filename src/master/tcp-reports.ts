/**
 * The master's TCP report listener (design §2; docs/protocol.md "TCP
 * transport"): the same datagrams as over UDP, each preceded by its 4-byte
 * big-endian size, checked by the same Ingest (AUTH, replay, host).
 *
 * Anyone can connect, so everything is bounded and counted:
 *   - connections in all (TCP_CONNECTIONS_MAX) and per source address
 *     (TCP_CONNECTIONS_PER_SOURCE_MAX): one address cannot take every slot;
 *   - bytes kept per connection between reads: at most one partial frame
 *     (4 + 1024 bytes), since a size outside 12..1024 ends the connection;
 *   - idle connections are closed after `idleMs` (an agent writes one report
 *     per interval, so this is several intervals).
 * TcpGate is the pure part (admission and counters); listenTcpReports is the
 * Bun adapter.
 */
import type { Socket, TCPSocketListener } from "bun";
import { splitFrames, MAX_DATAGRAM_BYTES, TCP_LENGTH_PREFIX_BYTES } from "../wire/index.ts";
import type { HostEntry } from "./hosts/table.ts";
import type { Ingest } from "./ingest.ts";

export const TCP_CONNECTIONS_MAX = 20_000;
/** Generous: agents behind one NAT address share it. */
export const TCP_CONNECTIONS_PER_SOURCE_MAX = 1024;
/** What one connection may hold between reads: a partial length prefix and frame. */
export const TCP_PENDING_BYTES_MAX = TCP_LENGTH_PREFIX_BYTES + MAX_DATAGRAM_BYTES - 1;
/** Idle connections live at least this long, whatever the report interval. */
export const TCP_IDLE_MS_MIN = 60_000;

/** Idle timeout for a report interval: 3.5 intervals (like `unavail`), at least TCP_IDLE_MS_MIN. */
export const tcpIdleMs = (reportIntervalMs: number): number => Math.max(TCP_IDLE_MS_MIN, Math.round(3.5 * reportIntervalMs));

export interface TcpReportCounters {
  /** Open now. */
  open: number;
  accepted: number;
  refusedPerSource: number;
  refusedTotal: number;
  closedIdle: number;
  /** Ended because a length prefix was outside 12..1024 (also counted as `short`/`long` drops). */
  closedBadFrame: number;
  /** Reports accepted over TCP. */
  reports: number;
}

/** Admission by source address, and the counters. Pure. */
export class TcpGate {
  readonly counters: TcpReportCounters = { open: 0, accepted: 0, refusedPerSource: 0, refusedTotal: 0, closedIdle: 0, closedBadFrame: 0, reports: 0 };
  private readonly perSource = new Map<string, number>();

  constructor(private readonly limits: { total: number; perSource: number } = { total: TCP_CONNECTIONS_MAX, perSource: TCP_CONNECTIONS_PER_SOURCE_MAX }) {}

  /** A new connection from `ip`: true if it may stay (then `closed(ip)` must follow once). */
  admit(ip: string): boolean {
    if (this.counters.open >= this.limits.total) {
      this.counters.refusedTotal++;
      return false;
    }
    const n = this.perSource.get(ip) ?? 0;
    if (n >= this.limits.perSource) {
      this.counters.refusedPerSource++;
      return false;
    }
    this.perSource.set(ip, n + 1);
    this.counters.open++;
    this.counters.accepted++;
    return true;
  }

  closed(ip: string): void {
    const n = this.perSource.get(ip) ?? 0;
    if (n <= 1) this.perSource.delete(ip);
    else this.perSource.set(ip, n - 1);
    this.counters.open = Math.max(0, this.counters.open - 1);
  }

  /** Sources with a connection open (bounded by `limits.total`). */
  get sources(): number {
    return this.perSource.size;
  }
}

interface Conn {
  ip: string;
  admitted: boolean;
  /** Bytes of a frame not complete yet (never more than TCP_PENDING_BYTES_MAX). */
  pending: Uint8Array | null;
}

export interface TcpReportOptions {
  hostname: string;
  port: number;
  idleMs: number;
  nowMs: () => number;
  /** A report accepted over TCP (the session counts them for the agent's pings). */
  onReport?: (host: HostEntry) => void;
}

export function listenTcpReports(opts: TcpReportOptions, ingest: Ingest, gate: TcpGate): TCPSocketListener<Conn> {
  const idleSec = Math.max(1, Math.ceil(opts.idleMs / 1000));
  return Bun.listen<Conn>({
    hostname: opts.hostname,
    port: opts.port,
    socket: {
      open(s: Socket<Conn>) {
        const ip = s.remoteAddress;
        s.data = { ip, admitted: gate.admit(ip), pending: null };
        if (!s.data.admitted) {
          s.terminate();
          return;
        }
        s.timeout(idleSec);
      },
      timeout(s: Socket<Conn>) {
        gate.counters.closedIdle++;
        s.terminate();
      },
      close(s: Socket<Conn>) {
        if (s.data?.admitted) {
          s.data.admitted = false;
          gate.closed(s.data.ip);
        }
      },
      error() {
        // A reset connection: close() follows.
      },
      data(s: Socket<Conn>, chunk: Buffer) {
        const c = s.data;
        if (!c?.admitted) return;
        s.timeout(idleSec);
        let buf: Uint8Array = chunk;
        if (c.pending) {
          buf = new Uint8Array(c.pending.length + chunk.length);
          buf.set(c.pending);
          buf.set(chunk, c.pending.length);
        }
        const r = splitFrames(buf);
        if (!r.ok) {
          // A bad length prefix desynchronises the stream: count it and end the connection.
          ingest.counters.dropped[r.reason]++;
          gate.counters.closedBadFrame++;
          c.pending = null;
          s.terminate();
          return;
        }
        const now = opts.nowMs();
        for (const f of r.frames) {
          const h = ingest.handle(f, c.ip, 0, now);
          if (typeof h !== "string") {
            gate.counters.reports++;
            opts.onReport?.(h);
          }
        }
        const rest = buf.length - r.consumed;
        // splitFrames leaves at most one partial frame; copy it, since `chunk` is reused by Bun.
        c.pending = rest === 0 ? null : buf.slice(r.consumed);
        if (rest > TCP_PENDING_BYTES_MAX) {
          // Cannot happen with a valid prefix (≤ 1024); kept as the stated bound.
          gate.counters.closedBadFrame++;
          c.pending = null;
          s.terminate();
        }
      },
    },
  });
}
