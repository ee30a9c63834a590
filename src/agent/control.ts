/**
 * One control-channel connection to one master (docs/api.md, "Control
 * channel"): open `ws://<master>/ws` with the token, send `register`, take
 * `registered`, answer `ping`, log `error`, hand `run_job` / `kill_job` /
 * `ack` to the agent (only once registered), ignore anything invalid. The
 * connection ends once, with a reason; the agent's connection machine
 * (connection/machine.ts) decides what comes next. Nothing here throws out
 * of a WebSocket callback or a timer.
 *
 * Liveness: besides the master's own pings (every 30 s by default, which the
 * agent cannot know), the agent sends a WebSocket ping frame every
 * `keepaliveMs` and gives the connection up after 2·keepaliveMs without any
 * frame from the master, so a master host that vanished (no FIN, no RST)
 * is noticed in under a minute instead of after TCP's timeouts.
 */
import { tlsAdvice, type ClientTls } from "../config/index.ts";
import { formatHostPort, httpUrl, MasterMessageSchema, parseMessage, type Ack, type AgentRequest, type AgentMessage, type HostPort, type KillJob, type Ping, type Register, type Registered, type RunJob, type SessionToken, type SignalJob } from "../control/index.ts";
import { logger } from "../log/index.ts";
import type { ControlOutcome } from "./connection/index.ts";

export type { ControlOutcome };

const log = logger("agent");

/** Warnings per connection about invalid messages or master errors before they drop to debug level. */
const NOISY_MESSAGES_LOGGED_MAX = 5;
/** After our own close frame, how long the master gets to answer before the socket is cut. */
const CLOSE_GRACE_MS = 1_000;
/** Longest close reason a WebSocket close frame takes is 123 bytes; stay under it. */
const CLOSE_REASON_CHARS_MAX = 100;

export interface ControlOptions {
  /** Its scheme says ws:// or wss://. */
  master: HostPort;
  token: string | undefined;
  /** The WebSocket's `tls` (agent.tls); undefined = the system store. */
  tls?: ClientTls | undefined;
  /** Sent as the first message once the socket is open. */
  register: Register;
  handshakeTimeoutMs: number;
  keepaliveMs: number;
  now: () => number;
  /** Called for each valid `registered` on this connection. */
  onRegistered: (msg: Registered, conn: ControlConnection) => void;
  /** Called for each valid `ping` after registration (it may carry the master's report counts). */
  onPing?: (msg: Ping, conn: ControlConnection) => void;
  /** Called for each valid `run_job`, `kill_job` and `ack` after registration (before it they are ignored). */
  onJobMessage?: (msg: RunJob | KillJob | SignalJob | Ack, conn: ControlConnection) => void;
  /** Called for each valid `execute`, `health_check`, `stream_logs`, `stop_logs`, `update_agent` after registration. */
  onRequest?: (msg: AgentRequest, conn: ControlConnection) => void;
  /** Called for each valid `session_token` (a refreshed session token) after registration. */
  onSessionToken?: (msg: SessionToken, conn: ControlConnection) => void;
}

export interface ControlConnection {
  readonly master: HostPort;
  /** now() of the first `registered`, or null. */
  readonly registeredAt: number | null;
  /** Resolves once, when the connection has ended. */
  readonly outcome: Promise<ControlOutcome>;
  /** Resolves when the socket is really closed (bounded by CLOSE_GRACE_MS after end()). */
  readonly closed: Promise<void>;
  /** Ends the connection (idempotent). */
  end(reason: string, opts?: { reconnectNow?: boolean }): void;
  /**
   * Sends one message if the socket is open; returns whether it was handed
   * to the socket (not whether the master got it: that is what acks are for).
   */
  send(msg: AgentMessage): boolean;
  /** Bytes handed to the socket and not written yet (log streams hold back while this is high). */
  bufferedAmount(): number;
  /** Messages received that failed validation. */
  readonly invalidMessages: number;
  /** now() when the master was last heard from (any frame, pongs included). */
  readonly lastHeardAt: number;
}

/** wss:// for an https master, ws:// otherwise. */
export function wsUrl(master: HostPort): string {
  return `${master.scheme === "https" ? "wss" : "ws"}://${formatHostPort(master)}/ws`;
}

/** "http(s)://host:port" of a master's HTTP port (what `update_agent` downloads from): the scheme goes with wsUrl's. */
export function httpBase(master: HostPort): string {
  return httpUrl(master);
}

/** Opens one connection; never throws (a bad URL ends the connection at once). */
export function openControl(opts: ControlOptions): ControlConnection {
  const url = wsUrl(opts.master);
  const where = formatHostPort(opts.master);
  let resolveOutcome!: (o: ControlOutcome) => void;
  let resolveClosed!: () => void;
  const outcome = new Promise<ControlOutcome>((r) => (resolveOutcome = r));
  const closed = new Promise<void>((r) => (resolveClosed = r));

  let ws: WebSocket | null = null;
  let done = false;
  let lastError: string | null = null;
  let lastHeardAt = opts.now();
  let noisy = 0;
  let handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  let keepaliveTimer: ReturnType<typeof setInterval> | null = null;
  let closeTimer: ReturnType<typeof setTimeout> | null = null;
  let notLeader: string | undefined;
  let closeCode: number | undefined;
  let upgradeStatus: number | undefined;

  const conn = {
    master: opts.master,
    registeredAt: null as number | null,
    outcome,
    closed,
    invalidMessages: 0,
    end,
    send,
    bufferedAmount: () => ws?.bufferedAmount ?? 0,
    get lastHeardAt() {
      return lastHeardAt;
    },
  };

  function clearTimers(): void {
    if (handshakeTimer) clearTimeout(handshakeTimer);
    if (keepaliveTimer) clearInterval(keepaliveTimer);
    handshakeTimer = keepaliveTimer = null;
  }

  function end(reason: string, endOpts: { reconnectNow?: boolean } = {}): void {
    if (done) return;
    done = true;
    clearTimers();
    const registeredMs = conn.registeredAt === null ? 0 : Math.max(0, opts.now() - conn.registeredAt);
    resolveOutcome({
      registered: conn.registeredAt !== null,
      registeredMs,
      reason,
      reconnectNow: endOpts.reconnectNow === true,
      ...(notLeader !== undefined ? { notLeader } : {}),
      ...(closeCode !== undefined ? { closeCode } : {}),
      ...(upgradeStatus !== undefined ? { upgradeStatus } : {}),
    });
    if (!ws || ws.readyState === WebSocket.CLOSED) {
      resolveClosed();
      return;
    }
    // A close frame, so the master logs a clean goodbye; cut the socket if it does not answer.
    try {
      ws.close(1000, reason.slice(0, CLOSE_REASON_CHARS_MAX));
    } catch {
      terminate();
    }
    closeTimer = setTimeout(terminate, CLOSE_GRACE_MS);
  }

  function terminate(): void {
    try {
      ws?.terminate();
    } catch {
      // already gone
    }
    resolveClosed();
  }

  function send(msg: object): boolean {
    if (done || !ws || ws.readyState !== WebSocket.OPEN) return false;
    try {
      ws.send(JSON.stringify(msg));
      return true;
    } catch (e) {
      end(`send failed: ${errorText(e)}`);
      return false;
    }
  }

  function noisyLog(level: "warn" | "error", text: string): void {
    if (noisy++ < NOISY_MESSAGES_LOGGED_MAX) log[level](text);
    else log.debug(text);
  }

  function onMessage(data: unknown): void {
    lastHeardAt = opts.now();
    const text = typeof data === "string" || data instanceof Uint8Array || data instanceof ArrayBuffer ? data : String(data);
    const parsed = parseMessage(MasterMessageSchema, text);
    if (!parsed.ok) {
      conn.invalidMessages++;
      noisyLog("warn", `ignored an invalid message from master ${where}: ${parsed.error}: ${oneLine(parsed.detail)}`);
      return;
    }
    const msg = parsed.message;
    switch (msg.type) {
      case "registered":
        if (conn.registeredAt === null) conn.registeredAt = opts.now();
        if (handshakeTimer) clearTimeout(handshakeTimer);
        handshakeTimer = null;
        opts.onRegistered(msg, conn);
        break;
      case "ping":
        send({ type: "pong", ts: msg.ts });
        if (conn.registeredAt !== null) opts.onPing?.(msg, conn);
        break;
      case "session_token":
        if (conn.registeredAt !== null) opts.onSessionToken?.(msg, conn);
        break;
      case "error":
        if (msg.error === "not_leader") {
          // A follower, or a deposed leader: it closes the channel next; go where it points.
          notLeader = msg.leader ?? "";
          end(`master ${where} is not the leader${msg.leader ? `; the leader is ${msg.leader}` : ""}`);
          break;
        }
        noisyLog("error", `master ${where} reports an error: ${oneLine(msg.error)}${msg.detail ? `: ${oneLine(msg.detail)}` : ""}`);
        break;
      case "run_job":
      case "kill_job":
      case "signal_job":
      case "ack":
        if (conn.registeredAt === null) {
          noisyLog("warn", `ignored ${msg.type} from master ${where} before registration`);
          break;
        }
        opts.onJobMessage?.(msg, conn);
        break;
      case "execute":
      case "health_check":
      case "stream_logs":
      case "stop_logs":
      case "update_agent":
      case "deploy":
      case "peek_job":
        if (conn.registeredAt === null) {
          noisyLog("warn", `ignored ${msg.type} from master ${where} before registration`);
          break;
        }
        opts.onRequest?.(msg, conn);
        break;
    }
  }

  function keepalive(): void {
    if (done || !ws || ws.readyState !== WebSocket.OPEN) return;
    const silentMs = opts.now() - lastHeardAt;
    if (silentMs > 2 * opts.keepaliveMs) {
      end(`no traffic from the master for ${Math.round(silentMs / 1000)} s`);
      return;
    }
    try {
      ws.ping();
    } catch (e) {
      end(`ping failed: ${errorText(e)}`);
    }
  }

  try {
    const headers: Record<string, string> = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
    ws = new WebSocket(url, { headers, tls: opts.tls });
  } catch (e) {
    end(`cannot open ${url}: ${errorText(e)}`);
    return conn;
  }

  handshakeTimer = setTimeout(
    guard(() => end(`no answer to register within ${opts.handshakeTimeoutMs / 1000} s`)),
    opts.handshakeTimeoutMs,
  );

  ws.onopen = guard(() => {
    if (done) return;
    lastHeardAt = opts.now();
    send(opts.register);
    keepaliveTimer = setInterval(guard(keepalive), opts.keepaliveMs);
  });
  ws.onmessage = guard((ev: MessageEvent) => {
    if (!done) onMessage(ev.data);
  });
  ws.addEventListener(
    "pong",
    guard(() => {
      lastHeardAt = opts.now();
    }),
  );
  ws.onerror = guard((ev: Event) => {
    const msg = (ev as ErrorEvent).message;
    if (typeof msg === "string" && msg) {
      lastError = shortenWsError(msg, opts.master.scheme ?? "http");
      const status = /Expected 101 status code: (\d{3})/.exec(msg)?.[1];
      if (status) upgradeStatus = Number(status);
    }
  });
  ws.onclose = guard((ev: CloseEvent) => {
    if (closeTimer) clearTimeout(closeTimer);
    resolveClosed();
    if (ev.code >= 4000 || ev.code === 1001) closeCode = ev.code;
    end(closeText(ev.code, ev.reason, lastError));
  });
  return conn;
}

/** What an HTTP status refusing the upgrade means to an operator. */
const UPGRADE_REFUSED: Record<string, string> = {
  "401": "the master refused the token (HTTP 401): check agent.token / --token / LAVA_TOKEN",
  "403": "the token is not allowed on /ws (HTTP 403): use a token with role agent",
  "503": "the master is busy admitting other agents (HTTP 503)",
};

/**
 * "WebSocket connection to 'ws://…' failed: Failed to connect ECONNREFUSED" → "Failed to connect ECONNREFUSED";
 * "…: Expected 101 status code: 401 …" → what a 401 means; a TLS failure gets what to do about it.
 */
function shortenWsError(msg: string, scheme: "http" | "https"): string {
  const status = /Expected 101 status code: (\d{3})/.exec(msg)?.[1];
  if (status && UPGRADE_REFUSED[status]) return UPGRADE_REFUSED[status];
  const i = msg.indexOf("failed: ");
  const text = oneLine(i >= 0 ? msg.slice(i + "failed: ".length) : msg);
  const advice = tlsAdvice(scheme, text, "agent.tls.ca (env LAVA_TLS_CA)");
  return advice ? `${text} (${advice})` : text;
}

/** Untrusted text for one log line: no line breaks, bounded. */
function oneLine(text: string): string {
  const s = text.replace(/\s*\n\s*/g, " ");
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

function closeText(code: number, reason: string, lastError: string | null): string {
  if (lastError) return lastError;
  if (code === 1006) return "connection lost";
  // docs/api.md: a second registration of the same hostname closes the first with 4000.
  if (code === 4000) return "replaced by a newer registration of this hostname (another agent with the same --hostname?)";
  if (code === 4006) return `the master refused this host's key (another host registered this name first, or the host was reinstalled): an admin runs 'lava ctl host reset-key HOST' (${reason.slice(0, CLOSE_REASON_CHARS_MAX)})`;
  return `closed by the master (code ${code}${reason ? ` "${reason.slice(0, CLOSE_REASON_CHARS_MAX)}"` : ""})`;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Wraps a callback so that nothing it throws escapes into the runtime: logged instead. */
export function guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (e) {
      log.error(`internal error (ignored): ${errorText(e)}`, e instanceof Error && e.stack ? { stack: e.stack } : undefined);
    }
  };
}
