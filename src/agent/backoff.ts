/**
 * Reconnect delays for the control channel (design §4: first try after
 * ~10 s, then exponential backoff with full jitter, capped at 5 min).
 * Pure: the random source is injected, so tests and simulations can replay
 * a run from a seed.
 *
 * Rounds: round 0 is the first wait after a drop (or after the first pass
 * over the master list failed at start-up); each further pass over the list
 * that ends without a registration adds one. The agent resets the round to 0
 * once a session has stayed registered for STABLE_SESSION_MS, not on every
 * registration, so a master that accepts and then drops agents at once
 * (crash loop, overload) still sees the delays grow instead of every agent
 * coming back every ~10 s.
 */

import type { Rng } from "../rng/index.ts";

/** A source of uniform numbers in [0, 1), like Math.random. */
export type { Rng };

/** Jitter of the first delay: ±20 % around `minMs`. */
export const FIRST_DELAY_JITTER = 0.2;

/** A session registered this long counts as healthy: the next drop starts again at round 0. */
export const STABLE_SESSION_MS = 60_000;

export interface BackoffPolicy {
  /** First delay after a drop (config.reconnectMin, in ms). */
  minMs: number;
  /** Cap on every delay (config.reconnectMax, in ms). */
  maxMs: number;
}

/**
 * Milliseconds to wait before reconnect round `round`.
 *
 * - round 0: `minMs` ± 20 % (uniform), so agents dropped together by one
 *   master restart do not all come back in the same instant;
 * - round n ≥ 1: full jitter, uniform in [0, min(maxMs, minMs·2^n)]
 *   (AWS "Exponential Backoff and Jitter"): the mean grows exponentially and
 *   the retries of many agents spread over the whole window.
 *
 * Never more than `maxMs`; if `minMs` > `maxMs`, `maxMs` is used as both.
 */
export function reconnectDelayMs(round: number, policy: BackoffPolicy, rng: Rng): number {
  const maxMs = Math.max(0, policy.maxMs);
  const minMs = Math.min(Math.max(0, policy.minMs), maxMs);
  const r = clampUnit(rng());
  if (!(round >= 1)) {
    const jittered = minMs * (1 + FIRST_DELAY_JITTER * (2 * r - 1));
    return Math.min(maxMs, Math.round(jittered));
  }
  // 2 ** round is Infinity past ~1023; Math.min then yields the cap.
  const ceilingMs = Math.min(maxMs, minMs * 2 ** round);
  return Math.round(r * ceilingMs);
}

/** Guards against an rng that strays outside [0, 1) (or returns NaN). */
function clampUnit(x: number): number {
  if (!(x > 0)) return 0;
  return x < 1 ? x : 1;
}

/** Quick retries after a master's clean shutdown before the normal rounds resume. */
export const RESTART_RETRIES = 3;
/** The window of a quick retry, as fractions of `minMs`: 1–6 s with the default 10 s. */
export const RESTART_WINDOW = [0.1, 0.6] as const;

/**
 * Milliseconds to wait after the master closed the channel cleanly (close
 * code 1001: it is stopping, most often to restart at once), and before
 * each of up to RESTART_RETRIES tries that found it not up yet: uniform in
 * RESTART_WINDOW·minMs. Spread over seconds, the fleet comes back within a
 * few seconds of the restart instead of after ~minMs; the master's
 * admission bucket for session tokens (`wsResumePerSec`) still bounds the
 * rate, and each resume costs it no write.
 */
export function restartDelayMs(policy: BackoffPolicy, rng: Rng): number {
  const maxMs = Math.max(0, policy.maxMs);
  const minMs = Math.min(Math.max(0, policy.minMs), maxMs);
  const [lo, hi] = RESTART_WINDOW;
  return Math.min(maxMs, Math.round(minMs * (lo + (hi - lo) * clampUnit(rng()))));
}
