/**
 * The agent's alerting loop: every agent.alerts.interval seconds it samples
 * /proc (its own ProcSampler, so cpu is the delta since the previous
 * evaluation) and the filesystems, runs the pure evaluator (rules.ts) and
 * sends each change as an `alert`.
 *
 * Delivery: after every (re)registration the agent re-sends every alert
 * still firing (the same message, with the time it fired), so a restarted
 * or new master learns them; and a `resolved` that could not be sent (the
 * channel was down) is sent then too, so the master does not keep an alert
 * that ended meanwhile. Both are bounded by the number of rules.
 */
import type { Alert } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import { errorText, guard } from "../control.ts";
import type { ProcLoadReport, ProcResult } from "../procfs/index.ts";
import { alertMetrics } from "./metrics.ts";
import { compare, evaluateRules, type AlertRule, type RuleState } from "./rules.ts";

const log = logger("agent");

export interface AlertMonitorOptions {
  hostname: string;
  rules: readonly AlertRule[];
  intervalMs: number;
  /** One /proc sample (a ProcSampler of its own: cpu is the delta since the previous call). */
  sample: () => ProcResult<ProcLoadReport>;
  /** The fullest filesystem's use in percent, or null if none could be read. */
  diskPercent: () => number | null;
  /** Sends on the registered session; false if there is none. */
  send: (msg: Alert) => boolean;
  /** Monotonic ms. */
  now?: () => number;
  /** ms since the epoch. */
  wallClock?: () => number;
}

export interface AlertMonitor {
  start(): void;
  /** One evaluation now (the timer calls this; tests may too). */
  evaluate(): void;
  /** A session was just registered: re-send what is firing and the resolves that did not go out. */
  onRegistered(): void;
  /** Alerts firing now. */
  firing(): Alert[];
  /** Evaluations done (each one sample of /proc and the filesystems). */
  readonly evaluations: number;
  stop(): void;
}

/** A rule whose clear level is on the wrong side of its threshold has no hysteresis: say so once at start. */
function checkRule(rule: AlertRule): void {
  if (rule.clear === undefined || rule.clear === rule.threshold) return;
  if (compare(rule.clear, rule.op, rule.threshold)) {
    log.warn(`alert rule ${rule.name}: clear ${rule.clear} is beyond the threshold ${rule.op} ${rule.threshold}, so it gives no hysteresis; set agent.alerts.rules[].clear on the other side of the threshold`);
  }
}

export function createAlertMonitor(opts: AlertMonitorOptions): AlertMonitor {
  const now = opts.now ?? (() => performance.now());
  const wallClock = opts.wallClock ?? Date.now;
  let states = new Map<string, RuleState>();
  /** Resolves that found no session, by rule name. */
  const unsentResolves = new Map<string, Alert>();
  let samples = 0;
  let evaluations = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let sampleErrorLogged = false;
  for (const r of opts.rules) checkRule(r);

  function deliver(a: Alert): void {
    const ok = opts.send(a);
    if (a.state === "resolved") {
      if (ok) unsentResolves.delete(a.rule);
      else unsentResolves.set(a.rule, a);
    } else {
      // A newer firing replaces a resolve that never went out.
      unsentResolves.delete(a.rule);
    }
  }

  function evaluate(): void {
    if (opts.rules.length === 0) return;
    const s = opts.sample();
    if (!s.ok) {
      if (!sampleErrorLogged) log.warn(`alerts: cannot sample /proc (${s.error}); rules are not evaluated until it reads again`);
      sampleErrorLogged = true;
      return;
    }
    sampleErrorLogged = false;
    const values = alertMetrics(s.value, { cpuValid: samples++ > 0, diskPercent: opts.diskPercent() });
    evaluations++;
    const step = evaluateRules(opts.hostname, opts.rules, states, values, { nowMs: now(), wallMs: wallClock() });
    states = step.states;
    for (const a of step.alerts) {
      (a.state === "firing" ? log.warn : log.info)(`alert ${a.id} ${a.state}: ${a.message}`);
      deliver(a);
    }
  }

  function arm(): void {
    if (stopped) return;
    timer = setTimeout(
      guard(() => {
        try {
          evaluate();
        } catch (e) {
          log.error(`internal error evaluating alerts: ${errorText(e)}`);
        }
        arm();
      }),
      opts.intervalMs,
    );
  }

  function firing(): Alert[] {
    return [...states.values()].flatMap((s) => (s.firing ? [s.firing] : []));
  }

  return {
    start() {
      if (opts.rules.length > 0) arm();
    },
    evaluate,
    onRegistered() {
      for (const a of firing()) opts.send(a);
      for (const a of [...unsentResolves.values()]) deliver(a);
    },
    firing,
    get evaluations() {
      return evaluations;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
