/**
 * What the agent says of itself (`status`: online / degraded, design §11
 * `agentStatus`): degraded while a health check is critical or unknown, or
 * /proc cannot be read; online otherwise. Pure: the agent feeds it health
 * reports and the reporter's problem and sends what it returns.
 */
import type { AgentHealthStatus, Health } from "../control/index.ts";

/** A failing check list longer than this is cut (the `detail` a status carries is at most 500). */
const FAILING_CHARS_MAX = 400;
/** `detail` of a `status` message. */
export const STATUS_DETAIL_CHARS_MAX = 500;

export type StatusMessage = { type: "status"; status: AgentHealthStatus; detail?: string };

export class SelfStatus {
  status: AgentHealthStatus = "online";
  detail: string | null = null;
  private healthFailing: string | null = null;

  /** Takes a health report (update() then says whether the status changed). */
  observeHealth(msg: Health): void {
    const failing = Object.entries(msg.checks)
      .filter(([, c]) => c.status === "critical" || c.status === "unknown")
      .map(([name, c]) => `${name}: ${c.status}${c.detail ? ` (${c.detail})` : ""}`);
    this.healthFailing = failing.length ? failing.join("; ").slice(0, FAILING_CHARS_MAX) : null;
  }

  /** Looks again (procProblem: /proc cannot be read); the status message to send if the status or its detail changed. */
  update(procProblem: boolean): StatusMessage | null {
    const detail = [this.healthFailing, procProblem ? "cannot read /proc" : null].filter((x) => x !== null).join("; ") || null;
    const next: AgentHealthStatus = detail ? "degraded" : "online";
    if (next === this.status && detail === this.detail) return null;
    this.status = next;
    this.detail = detail;
    return this.message();
  }

  /** The current status as a `status` message (also sent after each registration, with the job list). */
  message(): StatusMessage {
    return { type: "status", status: this.status, ...(this.detail ? { detail: this.detail.slice(0, STATUS_DETAIL_CHARS_MAX) } : {}) };
  }
}
