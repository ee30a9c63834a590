/**
 * When the agent reports its health (design §4 `health`): every
 * agent.health.interval seconds, once right after each registration, and in
 * answer to each `health_check` (with its requestId). A periodic report
 * while no session is registered is skipped, not kept: the next one is as
 * good. Requests that arrive while a collection runs share it, so a burst
 * of health_checks runs the check commands once.
 */
import type { Health } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import { errorText, guard } from "../control.ts";
import type { Check } from "./status.ts";

const log = logger("agent");

export interface HealthMonitorOptions {
  intervalMs: number;
  /** Runs the checks; aborting the signal kills check commands still running. */
  collect: (signal: AbortSignal) => Promise<Record<string, Check>>;
  /** Sends on the registered session; false if there is none. */
  send: (msg: Health) => boolean;
  /** ms since the epoch, for `at`. */
  wallClock?: () => number;
}

export interface HealthMonitor {
  /** Starts the periodic reports. */
  start(): void;
  /** A session was just registered: report once now. */
  onRegistered(): void;
  /** Answers a health_check through `reply` (the connection it came on). */
  request(requestId: string, reply: (msg: Health) => boolean): void;
  /** Reports sent (periodic and answers). */
  readonly sent: number;
  /** No more reports; kills check commands still running and resolves when they have ended. */
  stop(): Promise<void>;
}

export function createHealthMonitor(opts: HealthMonitorOptions): HealthMonitor {
  const wallClock = opts.wallClock ?? Date.now;
  const abort = new AbortController();
  let inflight: Promise<Record<string, Check>> | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let sent = 0;

  function collect(): Promise<Record<string, Check>> {
    if (inflight) return inflight;
    const p = opts.collect(abort.signal).finally(() => {
      if (inflight === p) inflight = null;
    });
    inflight = p;
    return p;
  }

  function report(requestId: string | undefined, send: (msg: Health) => boolean): void {
    void collect().then(
      (checks) => {
        if (stopped) return;
        const msg: Health = { type: "health", at: wallClock(), checks };
        if (requestId !== undefined) msg.requestId = requestId;
        if (send(msg)) sent++;
      },
      (e) => log.error(`internal error collecting health checks: ${errorText(e)}`),
    );
  }

  function arm(): void {
    if (stopped) return;
    timer = setTimeout(
      guard(() => {
        report(undefined, opts.send);
        arm();
      }),
      opts.intervalMs,
    );
  }

  return {
    start: arm,
    onRegistered: () => report(undefined, opts.send),
    request: (requestId, reply) => report(requestId, reply),
    get sent() {
      return sent;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      abort.abort();
      await inflight?.catch(() => {});
    },
  };
}
