/**
 * After an agent registers, its host takes no new job until the master has
 * reconciled what runs there (docs/jobs.md): the agent's `status` lists its
 * jobs, the master kills those it no longer expects (cancelled or timed
 * out while the host was unreachable, requeued elsewhere meanwhile), and
 * the host opens again once those have ended, or after `maxMs` at the
 * latest. So a job that should be dead never runs beside new work.
 * Pure: time comes in as arguments.
 */
export class ReconcileGate {
  private readonly closed = new Map<number, { untilMs: number; kills: Set<string> | null }>();

  constructor(private readonly maxMs: number) {}

  /** A host registered: closed until its status is reconciled. */
  registered(hostId: number, nowMs: number): void {
    this.closed.set(hostId, { untilMs: nowMs + this.maxMs, kills: null });
  }

  /** Its status was reconciled; `kills` are the "jobId/attempt" told to end. */
  reconciled(hostId: number, kills: readonly string[]): void {
    const g = this.closed.get(hostId);
    if (!g) return;
    if (kills.length === 0) this.closed.delete(hostId);
    else g.kills = new Set(kills);
  }

  /** An attempt on the host ended (its finished event came). */
  ended(hostId: number, key: string): void {
    const g = this.closed.get(hostId);
    if (!g || !g.kills) return;
    g.kills.delete(key);
    if (g.kills.size === 0) this.closed.delete(hostId);
  }

  gone(hostId: number): void {
    this.closed.delete(hostId);
  }

  isClosed(hostId: number, nowMs: number): boolean {
    const g = this.closed.get(hostId);
    if (!g) return false;
    if (nowMs < g.untilMs) return true;
    this.closed.delete(hostId);
    return false;
  }
}
