/**
 * Counts of what the control channel refused, by reason: shown in /metrics
 * (`lava_control_refused_total{reason}`) and `ctl status --json`
 * (`control.refused`). Reasons are a closed set, so the metric's cardinality is fixed.
 */
export const REFUSAL_REASONS = [
  // job_event
  "job_not_found",
  "job_not_running",
  "job_other_host",
  "job_stale_attempt",
  "job_duplicate",
  // register
  "host_key_required",
  "host_key_mismatch",
  "bad_host_key",
  "stale_proof",
  "replayed_proof",
  "bad_proof",
  "one_host_per_connection",
  "rate_limited",
  "too_many_hosts",
  "session_revoked",
  "token_host",
  "busy",
  // tokens
  "token_revoked",
  "token_expired",
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export class Refusals {
  private readonly counts = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>;

  count(reason: RefusalReason): void {
    this.counts[reason]++;
  }

  snapshot(): Record<RefusalReason, number> {
    return { ...this.counts };
  }
}
