/**
 * A minimal WebSocket client for the control-channel handshake (docs/api.md),
 * written over Bun.connect so that a benchmark can hold thousands of agent
 * channels in one process and, unlike the WebSocket API, see the HTTP answer
 * to the upgrade: a `503` with `Retry-After` from the master's admission
 * bucket is reported to the caller, who honours it.
 *
 * Client side of RFC 6455 only as far as the handshake needs: text frames,
 * masked as the RFC requires, answers to `{"type":"ping"}` messages and to
 * ping frames, close frames. No fragmentation (the master's messages are
 * small), no extensions.
 */
import type { Socket } from "bun";

export interface Registered {
  type: "registered";
  hostId: number;
  sessionKey: string;
  reportIntervalMs: number;
  udpPort: number;
  sessionToken?: string;
  sessionExpiresAtMs?: number;
  reportSeq?: number;
  masters?: string[];
  followSpreadMs?: number;
}

/** A message from the master after `registered` (parsed JSON; its fields unchecked: the master is ours). */
export interface MasterMessage {
  type: string;
  [k: string]: unknown;
}

export interface ChannelOptions {
  host: string;
  port: number;
  token: string;
  /** The first message: `{"type":"register",…}`. */
  register: object;
  /** Upgrade plus `registered` must complete within this. */
  timeoutMs: number;
  /**
   * Called once when an established channel ends (close frame or TCP close);
   * `notLeader`: the master said "not_leader" first (the leader's "host:port", or "").
   */
  onClose?: (code: number, reason: string, notLeader: string | undefined) => void;
  /** Each text message after `registered` (pings are answered here first). */
  onMessage?: (msg: MasterMessage) => void;
}

export type OpenResult =
  | { kind: "registered"; msg: Registered; channel: AgentChannel }
  | { kind: "rejected"; status: number; retryAfterS: number | null }
  /** `notLeader`: the master answered "not_leader" (the leader's "host:port", or ""); `closeCode`: its close frame's code. */
  | { kind: "failed"; error: string; notLeader?: string; closeCode?: number };

export interface AgentChannel {
  /** Ends the connection (a close frame, then the socket). Idempotent. */
  close(): void;
  /** Sends one JSON message if the channel is open; false if not. */
  send(msg: object): boolean;
  readonly isOpen: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const CRLFCRLF = enc.encode("\r\n\r\n");

const OPCODE_TEXT = 1;
const OPCODE_CLOSE = 8;
const OPCODE_PING = 9;
const OPCODE_PONG = 10;

interface State {
  opts: ChannelOptions;
  phase: "http" | "ws" | "closed";
  buf: Uint8Array;
  settled: boolean;
  resolve: (r: OpenResult) => void;
  timer: ReturnType<typeof setTimeout> | null;
  /** Bytes the kernel did not take yet (flushed on drain). */
  pending: Uint8Array[];
  closeCode: number;
  closeReason: string;
  closeSent: boolean;
  /** A close frame came from the master. */
  closeReceived: boolean;
  /** The master said "not_leader": the leader it named, or "". */
  notLeader: string | undefined;
  /** A `registered` arrived: the caller holds a channel and hears of its end. */
  registered: boolean;
  closeFired: boolean;
  channel: AgentChannel | null;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A masked client frame (RFC 6455 §5.3). */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n), false);
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, head);
  for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

function write(s: Socket<State>, bytes: Uint8Array): void {
  const st = s.data;
  if (st.pending.length) {
    st.pending.push(bytes);
    return;
  }
  const n = s.write(bytes);
  if (n < bytes.length) st.pending.push(bytes.subarray(Math.max(0, n)));
}

function settle(st: State, r: OpenResult): void {
  if (st.settled) return;
  st.settled = true;
  if (st.timer) clearTimeout(st.timer);
  st.timer = null;
  st.resolve(r);
}

function sendClose(s: Socket<State>, code: number): void {
  const st = s.data;
  if (st.closeSent || st.phase !== "ws") return;
  st.closeSent = true;
  const p = new Uint8Array(2);
  p[0] = code >>> 8;
  p[1] = code & 0xff;
  write(s, frame(OPCODE_CLOSE, p));
}

function onHttp(s: Socket<State>): void {
  const st = s.data;
  const end = indexOf(st.buf, CRLFCRLF);
  if (end < 0) {
    if (st.buf.length > 16384) {
      settle(st, { kind: "failed", error: "oversized HTTP answer" });
      s.end();
    }
    return;
  }
  const head = dec.decode(st.buf.subarray(0, end));
  st.buf = st.buf.slice(end + 4);
  const lines = head.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? NaN);
  if (status !== 101) {
    let retryAfterS: number | null = null;
    for (const l of lines) {
      const m = /^retry-after:\s*(\d+)/i.exec(l);
      if (m) retryAfterS = Number(m[1]);
    }
    st.phase = "closed";
    settle(st, Number.isFinite(status) ? { kind: "rejected", status, retryAfterS } : { kind: "failed", error: `bad HTTP answer: ${lines[0]}` });
    s.end();
    return;
  }
  st.phase = "ws";
  write(s, frame(OPCODE_TEXT, enc.encode(JSON.stringify(st.opts.register))));
  onFrames(s);
}

function onFrames(s: Socket<State>): void {
  const st = s.data;
  for (;;) {
    const b = st.buf;
    if (b.length < 2) return;
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let p = 2;
    if (len === 126) {
      if (b.length < 4) return;
      len = (b[2]! << 8) | b[3]!;
      p = 4;
    } else if (len === 127) {
      if (b.length < 10) return;
      len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0, false));
      p = 10;
    }
    const maskAt = p;
    if (masked) p += 4;
    if (b.length < p + len) return;
    const payload = b.slice(p, p + len);
    if (masked) for (let i = 0; i < len; i++) payload[i]! ^= b[maskAt + (i & 3)]!;
    st.buf = b.subarray(p + len);
    handleFrame(s, opcode, payload);
    if (st.phase !== "ws") return;
  }
}

function handleFrame(s: Socket<State>, opcode: number, payload: Uint8Array): void {
  const st = s.data;
  if (opcode === OPCODE_TEXT) {
    let msg: { type?: string; ts?: number; error?: string; detail?: string; leader?: string };
    try {
      msg = JSON.parse(dec.decode(payload));
    } catch {
      return;
    }
    if (msg.type === "registered" && !st.settled) {
      st.registered = true;
      settle(st, { kind: "registered", msg: msg as Registered, channel: st.channel! });
      return;
    }
    if (msg.type === "ping") write(s, frame(OPCODE_TEXT, enc.encode(JSON.stringify({ type: "pong", ts: msg.ts }))));
    if (msg.type === "error" && msg.error === "not_leader") {
      // As the agent (src/agent/control.ts): a follower or a deposed leader closes next; the connection ends here.
      st.notLeader = typeof msg.leader === "string" ? msg.leader : "";
      settle(st, { kind: "failed", error: `not_leader: ${msg.detail ?? ""}`, notLeader: st.notLeader });
      sendClose(s, 1000);
      st.phase = "closed";
      s.end();
      return;
    }
    if (msg.type === "error" && !st.settled) {
      settle(st, { kind: "failed", error: `${msg.error}: ${msg.detail ?? ""}` });
      sendClose(s, 1000);
      s.end();
      return;
    }
    if (st.registered && typeof msg.type === "string") st.opts.onMessage?.(msg as MasterMessage);
  } else if (opcode === OPCODE_PING) {
    write(s, frame(OPCODE_PONG, payload));
  } else if (opcode === OPCODE_CLOSE) {
    st.closeReceived = true;
    st.closeCode = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
    st.closeReason = dec.decode(payload.subarray(2));
    sendClose(s, st.closeCode === 1005 ? 1000 : st.closeCode);
    st.phase = "closed";
    s.end();
  }
}

const handlers = {
  open(s: Socket<State>) {
    const o = s.data.opts;
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
    write(
      s,
      enc.encode(
        `GET /ws HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${o.token}\r\n\r\n`,
      ),
    );
  },
  data(s: Socket<State>, chunk: Buffer) {
    const st = s.data;
    if (st.phase === "closed") return;
    st.buf = concat(st.buf, new Uint8Array(chunk));
    if (st.phase === "http") onHttp(s);
    else onFrames(s);
  },
  drain(s: Socket<State>) {
    const st = s.data;
    while (st.pending.length) {
      const b = st.pending[0]!;
      const n = s.write(b);
      if (n < b.length) {
        st.pending[0] = b.subarray(Math.max(0, n));
        return;
      }
      st.pending.shift();
    }
  },
  close(s: Socket<State>) {
    const st = s.data;
    st.phase = "closed";
    settle(st, { kind: "failed", error: st.closeReceived ? `closed by the master (code ${st.closeCode}${st.closeReason ? ` "${st.closeReason}"` : ""})` : "connection closed before registered", ...(st.closeReceived ? { closeCode: st.closeCode } : {}) });
    if (st.registered && !st.closeFired) {
      st.closeFired = true;
      st.opts.onClose?.(st.closeCode, st.closeReason, st.notLeader);
    }
  },
  error(s: Socket<State>, e: Error) {
    settle(s.data, { kind: "failed", error: e.message });
  },
  connectError(s: Socket<State>, e: Error) {
    settle(s.data, { kind: "failed", error: e.message });
  },
};

/** Opens a control channel and registers; never throws. */
export function openChannel(opts: ChannelOptions): Promise<OpenResult> {
  return new Promise<OpenResult>((resolve) => {
    const st: State = {
      opts,
      phase: "http",
      buf: new Uint8Array(0),
      settled: false,
      resolve,
      timer: null,
      pending: [],
      closeCode: 1006,
      closeReason: "",
      closeSent: false,
      closeReceived: false,
      notLeader: undefined,
      registered: false,
      closeFired: false,
      channel: null,
    };
    let sock: Socket<State> | null = null;
    st.channel = {
      close() {
        if (!sock) return;
        if (st.phase === "ws") sendClose(sock, 1000);
        st.phase = "closed";
        sock.end();
      },
      send(msg: object) {
        if (!sock || st.phase !== "ws") return false;
        write(sock, frame(OPCODE_TEXT, enc.encode(JSON.stringify(msg))));
        return true;
      },
      get isOpen() {
        return st.phase === "ws";
      },
    };
    st.timer = setTimeout(() => {
      settle(st, { kind: "failed", error: `no registration within ${opts.timeoutMs} ms` });
      sock?.end();
    }, opts.timeoutMs);
    Bun.connect<State>({ hostname: opts.host, port: opts.port, data: st, socket: handlers }).then(
      (s) => {
        sock = s;
        if (st.settled && st.phase !== "ws") s.end();
      },
      (e: Error) => settle(st, { kind: "failed", error: e.message }),
    );
  });
}
