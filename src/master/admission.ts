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
