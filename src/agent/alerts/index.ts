/**
 * Alerts raised by the agent itself (design §5): rules.ts (the evaluator:
 * thresholds, clear levels and durations; pure), metrics.ts (samples →
 * metric values; pure), monitor.ts (the timer, sampling, delivery and
 * re-sending after a registration).
 */
export { alertId, compare, evaluateRules, formatValue, INITIAL_STATE, stepRule, type AlertRule, type Instant, type Metric, type MetricValues, type Op, type Phase, type RuleState, type RuleStep } from "./rules.ts";
export { alertMetrics } from "./metrics.ts";
export { createAlertMonitor, type AlertMonitor, type AlertMonitorOptions } from "./monitor.ts";
