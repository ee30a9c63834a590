/**
 * What goes into the agent's connection state machine (machine.ts) and what
 * comes out of it. Events are facts the edges observed (a connection ended,
 * a timer fired, an announce was accepted); actions are what the machine
 * wants the edges to do (open a connection, close one, arm a timer, log).
 * Attempts are numbered: an event about an attempt that is no longer the
 * current one changes nothing.
 */
import type { HostPort, Scheme } from "../../control/index.ts";
import type { Membership } from "../announce.ts";
import type { BackoffPolicy, Rng } from "../backoff.ts";

/** The agent's state as status() shows it: the connection's phase, or "stopped" once stop() is done. */
export type AgentState = ConnectionPhase | "stopped";

/**
 * idle → connecting → registered → connecting (a drop) → waiting (backoff) → connecting → …
 * The phase stays where it was once stop() began: the agent is "stopped" when everything is down.
 */
export type ConnectionPhase = "idle" | "connecting" | "registered" | "waiting";

/** The machine's timers; the edge keeps at most one of each armed. */
export type TimerName =
  /** The wait before the next pass over the masters (backoff, a restart's quick retry, a hand-off's spread). */
  | "retry"
  /** The random delay before the channel moves to a newly announced leader. */
  | "follow"
  /** Asking for a new session token at half of the current one's life. */
  | "refresh";

/** How one control connection ended (control.ts resolves it; the machine decides what comes next). */
export interface ControlOutcome {
  /** A `registered` was received on this connection. */
  registered: boolean;
  /** ms from the first `registered` to the end (0 if never registered). */
  registeredMs: number;
  /** Why the connection ended, for the log. */
  reason: string;
  /** Set by end(…, {reconnectNow: true}): reconnect at once, without backoff. */
  reconnectNow: boolean;
  /**
   * The master said it is not the leader (error "not_leader"): the leader's
   * "host:port" when it named one, "" when it did not; undefined otherwise.
   */
  notLeader?: string;
  /** The master's close code, when it closed the connection (1001: it is shutting down, 4005: session token no longer valid, 4006: host key mismatch). */
  closeCode?: number;
  /** The HTTP status that refused the WebSocket upgrade (401: token refused, 503: busy), when that is how it ended. */
  upgradeStatus?: number;
}

export interface Endpoint {
  ip: string;
  port: number;
}

export type ConnectionEvent =
  /** start(): the masters of agent.master (schemes set) and the session token kept in the state dir, if any. */
  | { type: "start"; masters: readonly HostPort[]; scheme: Scheme; keptSessionToken?: string | null }
  /** stop() began: no connection opens from now on and no timer stays armed. */
  | { type: "stop" }
  /**
   * Attempt `attempt` got its first `registered` (`masters`: the cluster
   * members it named; the session token it handed out; `followSpreadMs`: the
   * window the master asks its agents to spread a move to a new leader over).
   */
  | { type: "registered"; attempt: number; hostId: number; masters?: readonly string[]; sessionToken?: { token: string; expiresAtMs: number }; followSpreadMs?: number }
  /** A `ping` on registered attempt `attempt` carried the master's followSpreadMs (it follows the fleet's size). */
  | { type: "follow_spread"; attempt: number; ms: number }
  /** A `session_token` (a refreshed token) arrived on attempt `attempt`. */
  | { type: "session_token"; attempt: number; token: string; expiresAtMs: number }
  /** Attempt `attempt` ended (whether it ever opened a socket or not). */
  | { type: "closed"; attempt: number; outcome: ControlOutcome }
  /** The answer to ask_admission: how long the busy master wants agents to wait (already spread; 0 if it could not tell). */
  | { type: "admission"; delayMs: number }
  | { type: "timer"; timer: TimerName }
  /**
   * An announce passed judgeAnnounce and the trust check (trusts()).
   * `from`: where it came from (a leader's report socket); `reportTarget`:
   * where reports go now (null without a session).
   */
  | { type: "announce"; leaderAddr: string; membership: Membership; from: Endpoint; reportTarget: Endpoint | null };

export type LogLevel = "debug" | "info" | "warn" | "error";

export type ConnectionAction =
  /** Open attempt `attempt` to `master` with `token` (the session token when `tokenKind` is "session"); report its end with a "closed" event. */
  | { type: "connect"; attempt: number; master: HostPort; token: string | undefined; tokenKind: "session" | "join" }
  /** End attempt `attempt` with `reason`; reconnectNow: its outcome must say so (no backoff). */
  | { type: "close"; attempt: number; reason: string; reconnectNow: boolean }
  /** Send on attempt `attempt` (registered). */
  | { type: "send"; attempt: number; message: { type: "session_refresh" } }
  /** Arm `timer` to fire once after `delayMs` (replacing one armed before); fire it back as a "timer" event. */
  | { type: "schedule"; timer: TimerName; delayMs: number }
  | { type: "cancel"; timer: TimerName }
  /** Ask `master`'s /healthz how long to wait (resume: in the bucket of session tokens); answer with an "admission" event. */
  | { type: "ask_admission"; master: HostPort; resume: boolean }
  /** Keep `token` in the state dir (null: remove it). */
  | { type: "save_token"; token: string | null }
  /** Send the load reports to `to` from now on (a new leader's report socket). */
  | { type: "retarget"; to: Endpoint }
  | { type: "log"; level: LogLevel; text: string };

export interface ConnectionOptions {
  /** reconnectMin / reconnectMax in ms. */
  policy: BackoffPolicy;
  rng: Rng;
  /** Monotonic ms (how long a session has been registered). */
  now: () => number;
  /** ms since the epoch (session token expiries are wall-clock times). */
  wallClock: () => number;
  /** agent.token; connections fall back to it when no session token is good. */
  joinToken: string | undefined;
  /** A session registered this long resets the backoff (STABLE_SESSION_MS). */
  stableSessionMs: number;
  /** An announce saying the master forgot this host is ignored this long after registering. */
  forgottenGraceMs: number;
}

/** What status() shows of the connection. */
export interface ConnectionView {
  phase: ConnectionPhase;
  stopping: boolean;
  /** The master registered with or being tried (status().master). */
  master: HostPort | null;
  /** The master of the last registration (reports go there). */
  sessionMaster: HostPort | null;
  leaderHint: HostPort | null;
  lastProblem: string | null;
  registrations: number;
  usingSessionToken: boolean;
  /** The current attempt, while one is open or being opened. */
  attempt: { id: number; master: HostPort; registered: boolean } | null;
}
