/**
 * Correlates agents' answers with the callers waiting for them (design §4:
 * "every request carries a requestId; the master correlates results,
 * enforces timeouts, and cleans up").
 *
 * A caller opens a request for one host and kind, gets a requestId to put in
 * the message it sends, and a handler that receives every message the agent
 * sends back with that id, until the final one (command_result, health or
 * logs_end). Every request ends exactly once: with its final message, at its
 * deadline, when its host's session ends (disconnected, replaced, removed),
 * when the caller cancels it, or at shutdown. Callers never hang.
 *
 * Pure: time comes in through `nowMs`, ids through `newId`, and deadlines
 * are enforced by `sweep(now)`, which the master calls on a timer.
 */
import type { CommandOutput, CommandResult, Health, JobOutput, LogLine, LogsEnd } from "../../control/index.ts";

export type RequestKind = "exec" | "health" | "logs" | "update" | "deploy" | "peek";
export type RoutedMessage = CommandOutput | CommandResult | Health | LogLine | LogsEnd | JobOutput;
export type FailReason = "disconnected" | "timeout" | "shutdown";

export interface RequestHandler {
  /** A message for this request; after the final one (see FINAL) the request is closed. */
  onMessage(msg: RoutedMessage): void;
  /** The request ended without its final message. */
  onFail(reason: FailReason, detail: string): void;
}

/** Which messages answer which kind of request, and which one ends it. */
const ACCEPTS: Record<RequestKind, ReadonlySet<RoutedMessage["type"]>> = {
  exec: new Set(["command_output", "command_result"]),
  update: new Set(["command_output", "command_result"]),
  deploy: new Set(["command_output", "command_result"]),
  health: new Set(["health"]),
  logs: new Set(["log_line", "logs_end"]),
  peek: new Set(["job_output"]),
};
const FINAL: Record<RequestKind, RoutedMessage["type"]> = { exec: "command_result", update: "command_result", deploy: "command_result", health: "health", logs: "logs_end", peek: "job_output" };

export interface RouterLimits {
  /** Requests open towards one host at once (a runaway script must not fill the master). */
  perHostMax: number;
  /** Requests open at once, over all hosts. */
  totalMax: number;
}

export const ROUTER_LIMITS_DEFAULT: RouterLimits = { perHostMax: 64, totalMax: 50_000 };

export type OpenResult = { ok: true; requestId: string } | { ok: false; error: "busy"; detail: string };
export type DeliverOutcome = "delivered" | "unknown" | "wrong_host" | "wrong_kind";

interface Pending {
  id: string;
  hostId: number;
  kind: RequestKind;
  /** Absolute ms, or null for none (a followed log runs until its reader goes). */
  deadlineMs: number | null;
  timeoutMs: number | null;
  handler: RequestHandler;
}

export interface RouterCounters {
  opened: number;
  delivered: number;
  /** Answers dropped because no open request has their id (late, after a timeout or disconnect, or made up). */
  unknown: number;
  /** Answers naming a request that was sent to another host: never handed over. */
  wrongHost: number;
  /** Answers of the wrong type for the request (a log_line for an exec). */
  wrongKind: number;
  timedOut: number;
  disconnected: number;
  /** Requests refused because a bound was reached. */
  refused: number;
}

export class RequestRouter {
  private readonly open = new Map<string, Pending>();
  private readonly byHost = new Map<number, Set<string>>();
  readonly counters: RouterCounters = { opened: 0, delivered: 0, unknown: 0, wrongHost: 0, wrongKind: 0, timedOut: 0, disconnected: 0, refused: 0 };

  constructor(
    private readonly nowMs: () => number,
    private readonly newId: () => string,
    private readonly limits: RouterLimits = ROUTER_LIMITS_DEFAULT,
    /** Where an exception thrown by a handler is reported (it never escapes into the caller's loop). */
    private readonly onHandlerError: (e: unknown) => void = () => {},
  ) {}

  get pending(): number {
    return this.open.size;
  }

  pendingFor(hostId: number): number {
    return this.byHost.get(hostId)?.size ?? 0;
  }

  /**
   * Opens a request towards `hostId`. `timeoutMs` null: no deadline (the
   * caller cancels it). Refused when a bound is reached, so the caller can
   * answer "busy" instead of queueing without limit.
   */
  openRequest(hostId: number, kind: RequestKind, timeoutMs: number | null, handler: RequestHandler): OpenResult {
    const forHost = this.byHost.get(hostId);
    if ((forHost?.size ?? 0) >= this.limits.perHostMax) {
      this.counters.refused++;
      return { ok: false, error: "busy", detail: `${this.limits.perHostMax} requests are already open towards this host; wait for them to end` };
    }
    if (this.open.size >= this.limits.totalMax) {
      this.counters.refused++;
      return { ok: false, error: "busy", detail: `the master has ${this.limits.totalMax} agent requests open; retry when some have ended` };
    }
    let id = this.newId();
    while (this.open.has(id)) id = this.newId();
    const p: Pending = { id, hostId, kind, deadlineMs: timeoutMs === null ? null : this.nowMs() + timeoutMs, timeoutMs, handler };
    this.open.set(id, p);
    if (forHost) forHost.add(id);
    else this.byHost.set(hostId, new Set([id]));
    this.counters.opened++;
    return { ok: true, requestId: id };
  }

  /** Hands an agent's message to the request it answers; anything else is dropped and counted. */
  deliver(hostId: number, msg: RoutedMessage): DeliverOutcome {
    const id = msg.requestId;
    const p = id === undefined ? undefined : this.open.get(id);
    if (!p) {
      this.counters.unknown++;
      return "unknown";
    }
    if (p.hostId !== hostId) {
      this.counters.wrongHost++;
      return "wrong_host";
    }
    if (!ACCEPTS[p.kind].has(msg.type)) {
      this.counters.wrongKind++;
      return "wrong_kind";
    }
    this.counters.delivered++;
    if (msg.type === FINAL[p.kind]) this.remove(p);
    this.call(() => p.handler.onMessage(msg));
    return "delivered";
  }

  /** Ends a request without calling its handler (the caller gave up, e.g. its HTTP client went away). */
  cancel(requestId: string): boolean {
    const p = this.open.get(requestId);
    if (!p) return false;
    this.remove(p);
    return true;
  }

  /** The host's session ended: every request sent on it fails now, with `detail`. Returns how many. */
  hostGone(hostId: number, detail: string): number {
    const ids = this.byHost.get(hostId);
    if (!ids) return 0;
    const failed = [...ids].map((id) => this.open.get(id)!);
    for (const p of failed) this.remove(p);
    this.counters.disconnected += failed.length;
    for (const p of failed) this.call(() => p.handler.onFail("disconnected", detail));
    return failed.length;
  }

  /** Fails every request past its deadline. Returns how many. */
  sweep(): number {
    const now = this.nowMs();
    const expired: Pending[] = [];
    for (const p of this.open.values()) if (p.deadlineMs !== null && now >= p.deadlineMs) expired.push(p);
    for (const p of expired) this.remove(p);
    this.counters.timedOut += expired.length;
    for (const p of expired) this.call(() => p.handler.onFail("timeout", `no answer from the agent within ${formatSeconds(p.timeoutMs!)}`));
    return expired.length;
  }

  /** Shutdown: fails everything still open. */
  failAll(detail: string): void {
    const all = [...this.open.values()];
    this.open.clear();
    this.byHost.clear();
    for (const p of all) this.call(() => p.handler.onFail("shutdown", detail));
  }

  private remove(p: Pending): void {
    this.open.delete(p.id);
    const set = this.byHost.get(p.hostId);
    if (!set) return;
    set.delete(p.id);
    if (set.size === 0) this.byHost.delete(p.hostId);
  }

  private call(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.onHandlerError(e);
    }
  }
}

export const formatSeconds = (ms: number): string => `${+(ms / 1000).toFixed(3)} s`;
