/**
 * The latest self-check of every host (`health` messages, design §4): soft
 * state in memory, like load. An agent sends one every agent.health.interval
 * and when asked (`health_check`); a restarted master knows nothing until
 * the next one. Bounded by the host table (one entry per registered host).
 * Pure: times come in as arguments.
 */
import type { Health } from "../../control/index.ts";

export type CheckStatus = "ok" | "warning" | "critical" | "unknown";
export type Checks = Health["checks"];

export interface HostHealth {
  /** When the agent ran the checks (its clock, ms since the epoch). */
  at: number;
  /** When the master received them. */
  receivedMs: number;
  checks: Checks;
  status: CheckStatus;
}

/**
 * Worst first: critical and warning call for action, unknown means a check
 * could not tell (it could not run), ok is ok. A host without checks is
 * unknown.
 */
const RANK: Record<CheckStatus, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };

export function worstStatus(checks: Checks): CheckStatus {
  let worst: CheckStatus | null = null;
  for (const c of Object.values(checks)) if (worst === null || RANK[c.status] > RANK[worst]) worst = c.status;
  return worst ?? "unknown";
}

export class HealthBook {
  private readonly byHost = new Map<number, HostHealth>();

  set(hostId: number, msg: Health, nowMs: number): HostHealth {
    const h: HostHealth = { at: msg.at, receivedMs: nowMs, checks: msg.checks, status: worstStatus(msg.checks) };
    this.byHost.set(hostId, h);
    return h;
  }

  get(hostId: number): HostHealth | undefined {
    return this.byHost.get(hostId);
  }

  remove(hostId: number): void {
    this.byHost.delete(hostId);
  }

  get size(): number {
    return this.byHost.size;
  }
}

/** GET /api/v1/health's row for one host; a host that never sent checks is `unknown` with `at` null. */
export function healthView(hostname: string, h: HostHealth | undefined) {
  return {
    host: hostname,
    at: h && Number.isFinite(h.at) && Math.abs(h.at) < 8.64e15 ? new Date(h.at).toISOString() : null,
    receivedAt: h ? new Date(h.receivedMs).toISOString() : null,
    status: h?.status ?? "unknown",
    checks: h?.checks ?? {},
  };
}
