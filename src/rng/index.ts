/**
 * Randomness, injected: pure cores (schedules, backoff, Raft timeouts, the
 * simulator) take an `Rng` so a seed replays a whole run.
 */
export type Rng = () => number;

/** Seeded uniform [0, 1) generator (mulberry32): small, fast, and the same sequence for the same seed everywhere. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The process's own randomness, for production edges. */
export const systemRng: Rng = Math.random;
