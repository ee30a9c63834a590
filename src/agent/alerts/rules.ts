/**
 * The alert evaluator (design §5: enter and clear thresholds and durations,
 * so a value hovering at a threshold does not flap). Pure: no clock, no
 * I/O; the caller passes the time of each evaluation in.
 *
 * Per rule, four phases:
 *
 *   ok ──enter holds──▶ pending ──held `for` s──▶ FIRING ──clear holds──▶ clearing ──held `for` s──▶ RESOLVED (ok)
 *        ◀─enter fails──┘                          ◀──clear fails──────────┘
 *
 * - enter: `value op threshold` (cpu > 90).
 * - clear: the alert stays active while `value op clear` still holds
 *   (cpu > 85), or the enter condition does; once both fail for `for`
 *   seconds, the alert resolves. With no `clear`, the enter threshold is used.
 * - `for` 0: fires (resolves) at the first evaluation where the condition holds.
 * - A metric that could not be read (undefined) changes nothing: neither
 *   the phase nor the time the condition has held since.
 *
 * Only the transitions into FIRING and RESOLVED produce an `alert`; so an
 * alert is sent once per change, and its id (`<hostname>:<rule name>`)
 * stays the same while it is active.
 */
import type { AgentConfig } from "../../config/index.ts";
import type { Alert } from "../../control/index.ts";

export type AlertRule = AgentConfig["alerts"]["rules"][number];
export type Metric = AlertRule["metric"];
export type Op = AlertRule["op"];
export type MetricValues = Partial<Record<Metric, number>>;

export type Phase = "ok" | "pending" | "firing" | "clearing";

export interface RuleState {
  phase: Phase;
  /** When the phase's condition started holding (pending, clearing), in the caller's monotonic ms. */
  since: number | null;
  /** The `alert` sent when it fired, while firing or clearing: re-sent after a registration. */
  firing: Alert | null;
}

export const INITIAL_STATE: Readonly<RuleState> = Object.freeze({ phase: "ok", since: null, firing: null });

export interface Instant {
  /** Monotonic ms, for the `for` durations. */
  nowMs: number;
  /** ms since the epoch, for the alert's `at`. */
  wallMs: number;
}

export interface RuleStep {
  state: RuleState;
  /** The alert to send, when the rule fired or resolved in this step. */
  alert: Alert | null;
}

const PERCENT: ReadonlySet<Metric> = new Set(["cpu", "mem", "disk", "swap"]);

export function compare(value: number, op: Op, threshold: number): boolean {
  switch (op) {
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
    case "<":
      return value < threshold;
    case "<=":
      return value <= threshold;
  }
}

/** "93.5 %" for percentages, "2.25" for loads. */
export function formatValue(metric: Metric, value: number): string {
  const n = Number(value.toFixed(2)).toString();
  return PERCENT.has(metric) ? `${n} %` : n;
}

export function alertId(hostname: string, rule: AlertRule): string {
  return `${hostname}:${rule.name}`.slice(0, 200);
}

/** The phase's condition has held since `sinceMs` for at least `forS` seconds. */
function held(sinceMs: number | null, nowMs: number, forS: number): boolean {
  return sinceMs !== null && nowMs - sinceMs >= forS * 1000;
}

function describe(rule: AlertRule, value: number, state: "firing" | "resolved"): string {
  const v = formatValue(rule.metric, value);
  const lasting = rule.for > 0 ? ` for ${rule.for} s` : "";
  if (state === "firing") return `${rule.metric} ${v} ${rule.op} ${formatValue(rule.metric, rule.threshold)}${lasting}`;
  const clear = rule.clear ?? rule.threshold;
  return `${rule.metric} ${v}: no longer ${rule.op} ${formatValue(rule.metric, clear)}${lasting}; resolved`;
}

function makeAlert(hostname: string, rule: AlertRule, state: "firing" | "resolved", value: number, wallMs: number): Alert {
  return { type: "alert", id: alertId(hostname, rule), rule: rule.name, severity: rule.severity, state, message: describe(rule, value, state), value, at: wallMs };
}

/** One rule, one evaluation. */
export function stepRule(hostname: string, rule: AlertRule, state: RuleState, value: number | undefined, at: Instant): RuleStep {
  if (value === undefined || !Number.isFinite(value)) return { state, alert: null };
  const enter = compare(value, rule.op, rule.threshold);
  // Still active while the enter condition holds too: a clear level on the wrong side of the threshold cannot make it flap.
  const active = enter || compare(value, rule.op, rule.clear ?? rule.threshold);
  const fire = (): RuleStep => {
    const alert = makeAlert(hostname, rule, "firing", value, at.wallMs);
    return { state: { phase: "firing", since: null, firing: alert }, alert };
  };
  switch (state.phase) {
    case "ok":
      if (!enter) return { state, alert: null };
      return rule.for <= 0 ? fire() : { state: { phase: "pending", since: at.nowMs, firing: null }, alert: null };
    case "pending":
      if (!enter) return { state: { ...INITIAL_STATE }, alert: null };
      return held(state.since, at.nowMs, rule.for) ? fire() : { state, alert: null };
    case "firing":
      if (active) return { state, alert: null };
      if (rule.for > 0) return { state: { ...state, phase: "clearing", since: at.nowMs }, alert: null };
      return { state: { ...INITIAL_STATE }, alert: makeAlert(hostname, rule, "resolved", value, at.wallMs) };
    case "clearing":
      if (active) return { state: { ...state, phase: "firing", since: null }, alert: null };
      if (!held(state.since, at.nowMs, rule.for)) return { state, alert: null };
      return { state: { ...INITIAL_STATE }, alert: makeAlert(hostname, rule, "resolved", value, at.wallMs) };
  }
}

/** Every rule against one set of readings; `states` is by rule name (missing = ok). */
export function evaluateRules(
  hostname: string,
  rules: readonly AlertRule[],
  states: ReadonlyMap<string, RuleState>,
  values: MetricValues,
  at: Instant,
): { states: Map<string, RuleState>; alerts: Alert[] } {
  const next = new Map<string, RuleState>();
  const alerts: Alert[] = [];
  for (const rule of rules) {
    const step = stepRule(hostname, rule, states.get(rule.name) ?? INITIAL_STATE, values[rule.metric], at);
    next.set(rule.name, step.state);
    if (step.alert) alerts.push(step.alert);
  }
  return { states: next, alerts };
}
