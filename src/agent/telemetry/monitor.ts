/**
 * When the agent sends telemetry: every agent.telemetry.interval seconds
 * (60), while a session is registered (a message with no session is
 * skipped, not kept: the next one is as good). The collector runs from the
 * start, so the rates of the first message sent cover a whole interval.
 * One collection at a time.
 */
import type { Telemetry } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import { errorText, guard } from "../control.ts";

const log = logger("agent");

export interface TelemetryMonitorOptions {
  intervalMs: number;
  collect: () => Promise<Telemetry>;
  /** Sends on the registered session; false if there is none. */
  send: (msg: Telemetry) => boolean;
}

export interface TelemetryMonitor {
  start(): void;
  stop(): void;
  /** Messages sent. */
  readonly sent: number;
}

export function createTelemetryMonitor(opts: TelemetryMonitorOptions): TelemetryMonitor {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let running = false;
  let sent = 0;

  function tick(send: boolean): void {
    if (running || stopped) return;
    running = true;
    opts
      .collect()
      .then((msg) => {
        if (!stopped && send && opts.send(msg)) sent++;
      })
      .catch((e) => log.error(`internal error collecting telemetry: ${errorText(e)}`))
      .finally(() => (running = false));
  }

  function arm(): void {
    if (stopped) return;
    timer = setTimeout(
      guard(() => {
        tick(true);
        arm();
      }),
      opts.intervalMs,
    );
  }

  return {
    start() {
      tick(false); // the baseline for the first rates
      arm();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    get sent() {
      return sent;
    },
  };
}
