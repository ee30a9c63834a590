/**
 * Held requests that nobody decided in time are expired through the log
 * (`approval.expire`, audited), by the leader, within EXPIRY_SWEEP_MS of
 * their expiry. A decision that comes later is refused by the apply itself
 * (commands carry the leader's time), so the sweep is bookkeeping, never
 * what keeps an expired request from running.
 */
import { logger } from "../../log/index.ts";
import type { Applied, Command } from "../../store/index.ts";

const log = logger("approvals");

export const EXPIRY_SWEEP_MS = 1_000;

export interface ExpiryDeps {
  isLeader(): boolean;
  /** Pending requests past their expiry at `nowMs`. */
  expired(nowMs: number): number[];
  propose(cmd: Command): Promise<Applied>;
  nowMs(): number;
}

export class ApprovalExpiry {
  private timer: ReturnType<typeof setInterval> | null = null;
  private running = false;

  constructor(private readonly deps: ExpiryDeps) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), EXPIRY_SWEEP_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sweep (also for tests). Resolves when its proposals are applied. */
  async sweep(): Promise<number> {
    if (this.running || !this.deps.isLeader()) return 0;
    this.running = true;
    try {
      const now = this.deps.nowMs();
      let n = 0;
      for (const id of this.deps.expired(now)) {
        const a = await this.deps.propose({ type: "approval.expire", at: this.deps.nowMs(), actor: "master", actorRole: "admin", id });
        if (a.result.ok) {
          n++;
          log.info(`approval request ${id} expired without a decision`);
        }
      }
      return n;
    } catch (e) {
      log.warn(`expiring approval requests failed (retried in ${EXPIRY_SWEEP_MS / 1000} s): ${(e as Error).message}`);
      return 0;
    } finally {
      this.running = false;
    }
  }
}
