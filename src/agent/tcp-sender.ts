/**
 * The agent's TCP report connection (docs/protocol.md "TCP transport"): one
 * connection to the master's TCP report port while reports go that way,
 * each report written as a length-framed datagram. A lost connection is
 * opened again after a backoff (backoff.ts, full jitter from
 * TCP_RECONNECT_MIN_MS up to TCP_RECONNECT_MAX_MS). Reports never queue for
 * long: what the socket does not take at once waits in a buffer of at most
 * TCP_PENDING_BYTES_MAX, beyond which reports are dropped and counted (a
 * late load report is worth nothing; the next one replaces it).
 */
import type { Socket } from "bun";
import { encodeFrame } from "../wire/index.ts";
import { logger } from "../log/index.ts";
import { reconnectDelayMs, type Rng } from "./backoff.ts";
import { errorText, guard } from "./control.ts";

const log = logger("agent");

export const TCP_RECONNECT_MIN_MS = 1_000;
export const TCP_RECONNECT_MAX_MS = 30_000;
/** Bytes waiting for the socket; a few reports' worth. */
export const TCP_PENDING_BYTES_MAX = 16 * 1024;

export interface TcpTarget {
  ip: string;
  port: number;
}

export interface TcpSenderCounters {
  connects: number;
  connectFailures: number;
  /** Reports dropped because the connection was down or its buffer full. */
  dropped: number;
}

export interface TcpSender {
  /** Where to keep a connection (null: none). A new target closes the old connection. */
  want(target: TcpTarget | null): void;
  /** Writes one report datagram; false if it could not be handed to the connection. */
  send(datagram: Uint8Array): boolean;
  readonly up: boolean;
  readonly counters: Readonly<TcpSenderCounters>;
  close(): void;
}

export function createTcpSender(opts: { rng: Rng; onState: (up: boolean, detail: string) => void }): TcpSender {
  let target: TcpTarget | null = null;
  let socket: Socket<undefined> | null = null;
  let connecting = false;
  let up = false;
  let round = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pending: Uint8Array | null = null;
  let closed = false;
  /** Bumped whenever the target changes, so a late callback of an old connection does nothing. */
  let epoch = 0;
  const counters: TcpSenderCounters = { connects: 0, connectFailures: 0, dropped: 0 };

  const key = (t: TcpTarget | null) => (t ? `${t.ip}:${t.port}` : "");

  function setUp(next: boolean, detail: string): void {
    if (up === next) return;
    up = next;
    opts.onState(next, detail);
  }

  function drop(): void {
    const s = socket;
    socket = null;
    pending = null;
    try {
      s?.terminate();
    } catch {
      // already gone
    }
  }

  function schedule(): void {
    if (timer || closed || !target) return;
    const delay = reconnectDelayMs(round++, { minMs: TCP_RECONNECT_MIN_MS, maxMs: TCP_RECONNECT_MAX_MS }, opts.rng);
    timer = setTimeout(
      guard(() => {
        timer = null;
        connect();
      }),
      delay,
    );
  }

  function lost(my: number, detail: string): void {
    if (my !== epoch) return;
    socket = null;
    pending = null;
    connecting = false;
    setUp(false, detail);
    schedule();
  }

  function connect(): void {
    if (closed || !target || socket || connecting) return;
    const my = epoch;
    const t = target;
    connecting = true;
    Bun.connect<undefined>({
      hostname: t.ip,
      port: t.port,
      socket: {
        open: guard((s: Socket<undefined>) => {
          if (my !== epoch || closed) {
            s.terminate();
            return;
          }
          connecting = false;
          socket = s;
          round = 0;
          counters.connects++;
          setUp(true, `connected to ${key(t)}`);
        }),
        // The master sends nothing on this connection.
        data: () => {},
        drain: guard((s: Socket<undefined>) => {
          if (my !== epoch || !pending) return;
          const n = s.write(pending);
          pending = n >= pending.length ? null : pending.subarray(Math.max(0, n));
        }),
        close: guard(() => lost(my, `the connection to ${key(t)} closed`)),
        error: guard((_s: Socket<undefined>, e: Error) => lost(my, `the connection to ${key(t)} failed: ${errorText(e)}`)),
        connectError: guard((_s: Socket<undefined>, e: Error) => {
          counters.connectFailures++;
          lost(my, `cannot connect to ${key(t)}: ${errorText(e)}`);
        }),
      },
    }).catch((e) => {
      if (my !== epoch) return;
      if (connecting) counters.connectFailures++;
      log.debug(`TCP report connection to ${key(t)}: ${errorText(e)}`);
      lost(my, `cannot connect to ${key(t)}: ${errorText(e)}`);
    });
  }

  return {
    get up() {
      return up;
    },
    counters,
    want(next) {
      if (key(next) === key(target)) {
        if (next && !socket && !connecting && !timer) connect();
        return;
      }
      epoch++;
      target = next;
      round = 0;
      if (timer) clearTimeout(timer);
      timer = null;
      connecting = false;
      drop();
      setUp(false, next ? `moving to ${key(next)}` : "TCP reports stopped");
      if (next) connect();
    },
    send(datagram) {
      const s = socket;
      if (!s || !up) {
        counters.dropped++;
        return false;
      }
      const frame = encodeFrame(datagram);
      if (pending) {
        if (pending.length + frame.length > TCP_PENDING_BYTES_MAX) {
          counters.dropped++;
          return false;
        }
        const joined = new Uint8Array(pending.length + frame.length);
        joined.set(pending);
        joined.set(frame, pending.length);
        pending = joined;
        return true;
      }
      const n = s.write(frame);
      if (n < frame.length) pending = frame.subarray(Math.max(0, n));
      return true;
    },
    close() {
      closed = true;
      epoch++;
      if (timer) clearTimeout(timer);
      timer = null;
      drop();
      up = false;
    },
  };
}
