/**
 * Per-key rate limits for registrations (per token, per source address):
 * one token bucket per key, in a bounded map. Pure: the time comes in.
 */

/** Keys tracked at most; when full, idle (full) buckets go first, then the oldest. */
const KEYS_MAX = 50_000;

interface Bucket {
  tokens: number;
  lastMs: number;
}

export class KeyedRateLimit {
  private readonly buckets = new Map<string, Bucket>();
  constructor(
    private readonly perSec: number,
    private readonly burst: number,
    private readonly keysMax = KEYS_MAX,
  ) {}

  /** Takes one slot for `key`; false when its bucket is empty. */
  take(key: string, nowMs: number): boolean {
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.lastMs) / 1000) * this.perSec);
      b.lastMs = nowMs;
      // Refresh the key's place: the map's order is then least recently used first.
      this.buckets.delete(key);
    } else {
      if (this.buckets.size >= this.keysMax) this.evict(nowMs);
      b = { tokens: this.burst, lastMs: nowMs };
    }
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private evict(nowMs: number): void {
    // A bucket that has refilled holds no information: dropping it changes nothing.
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((nowMs - b.lastMs) / 1000) * this.perSec >= this.burst) this.buckets.delete(k);
    }
    while (this.buckets.size >= this.keysMax) {
      const first = this.buckets.keys().next();
      if (first.done) break;
      this.buckets.delete(first.value);
    }
  }
}

/**
 * Allows at most `perWindow` events per key per `windowMs` and `totalPerWindow`
 * over all keys: what keeps refusals that are audited from flooding the log.
 */
export class AuditThrottle {
  private windowStart = 0;
  private total = 0;
  private readonly perKey = new Map<string, number>();
  constructor(
    private readonly windowMs = 60_000,
    private readonly perWindow = 1,
    private readonly totalPerWindow = 100,
  ) {}

  allow(key: string, nowMs: number): boolean {
    if (nowMs - this.windowStart >= this.windowMs) {
      this.windowStart = nowMs;
      this.total = 0;
      this.perKey.clear();
    }
    const n = this.perKey.get(key) ?? 0;
    if (n >= this.perWindow || this.total >= this.totalPerWindow) return false;
    this.perKey.set(key, n + 1);
    this.total++;
    return true;
  }
}
