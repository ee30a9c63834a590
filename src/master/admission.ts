/**
 * WebSocket admission (design §4): a token bucket that admits upgrades at a
 * bounded rate so a reconnect storm cannot swamp the master. `take()`
 * returns 0 when admitted, else the milliseconds until a slot frees up (the
 * caller answers 503 with Retry-After).
 */
export class AdmissionBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly perSec: number,
    private readonly nowMs: () => number,
    private readonly burst = Math.max(1, perSec),
  ) {
    this.tokens = this.burst;
    this.lastMs = nowMs();
  }

  /** The wait take() would answer now, without taking a slot. */
  peek(): number {
    const now = this.nowMs();
    const tokens = Math.min(this.burst, this.tokens + ((now - this.lastMs) / 1000) * this.perSec);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.perSec) * 1000);
  }

  take(): number {
    const now = this.nowMs();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastMs) / 1000) * this.perSec);
    this.lastMs = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.perSec) * 1000);
  }
}

/**
 * The share of the resume admission rate a fleet that moves to a new leader
 * is planned to use: arrivals spread evenly over agents / (0.8 · rate) come
 * in at 80 % of it, so their random bunching stays inside the bucket's burst
 * and next to no upgrade is answered 503.
 */
export const FOLLOW_LOAD = 0.8;

/**
 * followSpreadMs (docs/api.md, `registered` and `ping`): the window, in ms,
 * over which the agents of this master spread their move to a new leader
 * (a failover, a hand-off), sized so that `agents` (the hosts it knows) arrive at
 * FOLLOW_LOAD of `resumePerSec` (master.wsResumePerSec; the masters of a
 * cluster share their config). Agents take at most their reconnectMin.
 */
export function followSpreadMs(agents: number, resumePerSec: number): number {
  return Math.ceil((Math.max(0, agents) / (resumePerSec * FOLLOW_LOAD)) * 1000);
}

/** Ping rounds are sent in slices this long apart, each to the hosts whose id falls in it (no burst of 10,000 pings). */
export const PING_SLICE_MS = 100;

/** How a ping round of `pingIntervalMs` is sliced: `slices` ticks of `tickMs` each (tickMs · slices = the interval). */
export function pingSlices(pingIntervalMs: number): { slices: number; tickMs: number } {
  const slices = Math.max(1, Math.round(pingIntervalMs / PING_SLICE_MS));
  return { slices, tickMs: pingIntervalMs / slices };
}
