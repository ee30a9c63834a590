/**
 * The agent (`lava agent`): control channel, load reports, announces.
 * Pure parts: connection/ (the control channel's state machine: reconnects,
 * backoff, leader following, session tokens), backoff.ts (reconnect
 * delays), schedule.ts (report timing), announce.ts (judging MASTER_ANNs),
 * self-status.ts (online / degraded). Edges: control.ts (WebSocket),
 * reporter.ts (UDP), admission.ts (a busy master's wait), agent.ts (wires
 * the machine and the parts to them), run.ts (signals), jobs/ (running
 * jobs: runner.ts spawns; the rest is pure). Requests (docs/api.md "Agent
 * requests"): exec/ (`execute`; its process.ts runs every command the agent
 * starts), health/, alerts/, logs/ (`stream_logs`), update/
 * (`update_agent`, the restart).
 */
export { createAgent, SESSION_KEY_BYTES, type Agent } from "./agent.ts";
export type { AgentDeps } from "./deps.ts";
export type { AgentState, AgentStatus } from "./status.ts";
export { runAgent } from "./run.ts";
export { reconnectDelayMs, FIRST_DELAY_JITTER, STABLE_SESSION_MS, type BackoffPolicy, type Rng } from "./backoff.ts";
export { hostnameHash32, nextReportDelayMs, phaseOffsetMs, REPORT_JITTER } from "./schedule.ts";
export { judgeAnnounce, membership, type AnnounceRejection, type AnnounceSession, type AnnounceVerdict, type Membership } from "./announce.ts";
export { ConnectionMachine, type ConnectionAction, type ConnectionEvent, type ConnectionOptions } from "./connection/index.ts";
export { createJobRunner, type JobRunner, type JobRunnerOptions, type JobRunnerStats } from "./jobs/index.ts";
