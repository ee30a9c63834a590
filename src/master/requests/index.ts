export { RequestRouter, ROUTER_LIMITS_DEFAULT, formatSeconds, type RequestKind, type RequestHandler, type RoutedMessage, type FailReason, type RouterCounters, type RouterLimits } from "./router.ts";
export { checkExecPolicy, denyMatches, type ExecPolicy, type PolicyVerdict } from "./policy.ts";
export { resolveTargets, summarizeNames, type Target, type TargetHost, type TargetSpec } from "./targets.ts";
export { runExec, succeeded, EXEC_SLACK_MS, EXEC_FORWARD_BYTES_MAX, NO_CHANNEL, UNKNOWN_HOST, type ExecHostResult, type ExecStatus, type ExecSink } from "./exec.ts";
export { auditWriter, ResultAudit, type AuditWrite } from "./audit.ts";
export { Remote, DISCONNECTED, SWEEP_INTERVAL_MS, type RemoteMetrics } from "./remote.ts";
