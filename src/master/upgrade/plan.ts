/**
 * The wave plan of an agent self-update (POST /api/v1/upgrade). Pure.
 *
 * Hosts already on the master's version are left alone, names nobody
 * registered and hosts without a control channel cannot be told and fail
 * at once; the rest go in waves of `waveSize`, in the order given (by name
 * for --all). A wave is done when each of its hosts came back on the new
 * version or failed; after a wave in which more than half failed, the rest
 * are not touched (a bad binary reaches one wave, not the cluster).
 */
import type { Target } from "../requests/targets.ts";

export interface UpgradePlan {
  target: string;
  waves: string[][];
  /** Already on the target version. */
  current: string[];
  /** Registered, but no control channel to send the update on. */
  unreachable: string[];
  /** Not registered. */
  unknown: string[];
}

export function planUpgrade(targets: readonly Target[], targetVersion: string, waveSize: number): UpgradePlan {
  if (!(Number.isInteger(waveSize) && waveSize >= 1)) throw new Error(`waveSize must be a whole number ≥ 1, got ${waveSize}`);
  const plan: UpgradePlan = { target: targetVersion, waves: [], current: [], unreachable: [], unknown: [] };
  const todo: string[] = [];
  for (const t of targets) {
    if (!t.entry) plan.unknown.push(t.host);
    else if (t.entry.version === targetVersion) plan.current.push(t.host);
    else if (!t.entry.connected) plan.unreachable.push(t.host);
    else todo.push(t.host);
  }
  for (let i = 0; i < todo.length; i += waveSize) plan.waves.push(todo.slice(i, i + waveSize));
  return plan;
}

/** After a wave: stop when more than half of it failed. */
export function stopAfterWave(size: number, failed: number): boolean {
  return failed * 2 > size;
}
