/**
 * Audit rows for requests to agents (design §7: "audit log of every admin
 * action and every exec"), through the `audit.record` command like every
 * other audited request. A fan-out to 100,000 hosts must not become 100,000
 * log entries: one row per host up to a bound, then one summary row.
 */
import type { Claims } from "../../auth/index.ts";
import type { Command } from "../../store/index.ts";
import { logger } from "../../log/index.ts";

const log = logger("audit");

/** Longest target/result/detail the audit.record command takes. */
export const AUDIT_TEXT_MAX = 4096;

/** Text cut to what an audit row holds, marked when cut (a 4096-item argv must not make the audit write fail). */
export function auditText(text: string): string {
  return text.length <= AUDIT_TEXT_MAX ? text : `${text.slice(0, AUDIT_TEXT_MAX - 12)}… (cut)`;
}

export type AuditWrite = (action: string, target: string | null, result: string, detail?: string) => Promise<void>;

/** Writes audit rows as `caller`; a failed write is logged, never thrown (the action already happened). */
export function auditWriter(propose: (cmd: Command) => Promise<unknown>, caller: Claims, nowMs: () => number): AuditWrite {
  return async (action, target, result, detail) => {
    try {
      await propose({
        type: "audit.record",
        at: nowMs(),
        actor: caller.sub,
        actorRole: caller.role,
        action,
        ...(target !== null ? { target: auditText(target) } : {}),
        result: auditText(result),
        ...(detail !== undefined ? { detail: auditText(detail) } : {}),
      });
    } catch (e) {
      log.error(`cannot write the audit row for ${action} ${target ?? ""}: ${(e as Error).message}`);
    }
  };
}

/** Per-host result rows of one fan-out request: the first `rowsMax` each get a row, the rest one summary row. */
export class ResultAudit {
  private rows = 0;
  private readonly overflow = new Map<string, number>();
  private overflowHosts = 0;
  private readonly writes: Promise<void>[] = [];

  constructor(
    private readonly write: AuditWrite,
    private readonly action: string,
    private readonly rowsMax = 1000,
  ) {}

  /** `bucket` is what the summary counts (e.g. "ok", "failed"). */
  add(host: string, result: string, bucket: string, detail?: string): void {
    if (this.rows < this.rowsMax) {
      this.rows++;
      this.writes.push(this.write(this.action, host, result, detail));
      return;
    }
    this.overflowHosts++;
    this.overflow.set(bucket, (this.overflow.get(bucket) ?? 0) + 1);
  }

  /** Writes the summary row if some hosts had none; resolves when every row is written (or failed). */
  async finish(): Promise<void> {
    if (this.overflowHosts > 0) {
      const counts = [...this.overflow.entries()].map(([k, n]) => `${k}=${n}`).join(", ");
      this.writes.push(this.write(this.action, `+${this.overflowHosts} more hosts`, counts, `one row per host is kept for the first ${this.rowsMax} hosts of a request`));
    }
    await Promise.all(this.writes);
  }
}
