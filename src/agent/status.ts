/**
 * What `agent.status()` shows (tests, the fleet bench): the connection's
 * state and counters of every part of the agent.
 */
import type { AgentHealthStatus } from "../control/index.ts";
import type { AnnounceRejection } from "./announce.ts";
import type { AgentState } from "./connection/index.ts";

export type { AgentState };

export interface AgentStatus {
  state: AgentState;
  /** "host:port" of the master connected to (or being tried). */
  master: string | null;
  /** From the last registration; kept while disconnected (reports still use it). */
  hostId: number | null;
  /** Last report seq sent in the current session. */
  seq: number;
  reportIntervalMs: number;
  /** Local UDP port reports are sent from; 0 before start(). */
  reportPort: number;
  registrations: number;
  reportsSent: number;
  /** Of reportsSent, those that went over TCP. */
  reportsSentTcp: number;
  /** How reports go now: "udp" or "tcp" (agent.reportTransport). */
  reportTransport: "udp" | "tcp";
  reportsSkipped: number;
  announcesAccepted: number;
  /** Datagrams received that were not an acceptable announce, by reason. */
  announcesRejected: Partial<Record<AnnounceRejection, number>>;
  /** Control messages that failed validation, over all connections. */
  invalidMessages: number;
  /** Leader address from the latest announce, tried first on the next connection. */
  leaderHint: string | null;
  /** Why the last connection attempt failed or the last session ended, or null. */
  lastProblem: string | null;
  /** Job attempts running now. */
  jobsRunning: number;
  /** Job attempts accepted but not started yet (waiting for an older attempt to end). */
  jobsPending: number;
  /** Job attempts ended since the agent started. */
  jobsFinished: number;
  /** Job events waiting for the master's ack. */
  jobEventsUnacked: number;
  /** `execute` commands running now. */
  commandsRunning: number;
  /** Final command results waiting for a registered session. */
  commandResultsKept: number;
  /** Log streams running now. */
  logStreams: number;
  /** Alerts firing now. */
  alertsFiring: number;
  /** Alert evaluations done (one every agent.alerts.interval). */
  alertEvaluations: number;
  /** Health reports sent (periodic and answers). */
  healthReportsSent: number;
  /** What the agent says of itself: degraded while a health check fails or /proc cannot be read. */
  agentStatus: AgentHealthStatus;
  /** Fingerprint of the host key (null before start()). */
  hostKey: string | null;
  /** Connections use the session token the master handed out (not the join token). */
  usingSessionToken: boolean;
}
