/**
 * The master's live view of job arrays: for each array with elements still
 * pending or running, its limit (%MAX), how many elements run, which wait
 * (in index order), and how many ended in each state. The scheduler is
 * shown only the first few pending elements of each array (`window`): the
 * elements are alike, so if one does not fit, the later ones would not
 * either, and a 10,000-element array then costs a round no more than a few
 * dozen jobs.
 */
import type { TargetState } from "../../jobs/index.ts";

/** Most pending elements of one array shown to the scheduler in one round. */
export const ARRAY_WINDOW = 256;

export interface ArrayState {
  id: number;
  maxRunning: number | undefined;
  running: number;
  /** Pending element ids, ascending (index order). */
  pending: number[];
  /** Elements per state, over the array's life (pending and running included). */
  counts: Record<TargetState, number>;
}

export const zeroCounts = (): Record<TargetState, number> => ({ PEND: 0, RUN: 0, DONE: 0, EXIT: 0, KILLED: 0, LOST: 0 });

/** Where `id` is, or would go, in an ascending array. */
function lowerBound(xs: readonly number[], id: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts `id` into an ascending array (requeued elements go back in order). */
function insertSorted(xs: number[], id: number): void {
  const at = lowerBound(xs, id);
  if (xs[at] !== id) xs.splice(at, 0, id);
}

function removeSorted(xs: number[], id: number): void {
  // Dispatch takes the first ones almost always.
  if (xs[0] === id) {
    xs.shift();
    return;
  }
  const at = lowerBound(xs, id);
  if (xs[at] === id) xs.splice(at, 1);
}

export class ArrayBook {
  private readonly arrays = new Map<number, ArrayState>();

  get(id: number): ArrayState | undefined {
    return this.arrays.get(id);
  }

  values(): IterableIterator<ArrayState> {
    return this.arrays.values();
  }

  clear(): void {
    this.arrays.clear();
  }

  /** A new array (or one loaded at start-up with the counts its elements had). */
  add(id: number, maxRunning: number | undefined, counts: Record<TargetState, number> = zeroCounts()): ArrayState {
    const a: ArrayState = { id, maxRunning, running: 0, pending: [], counts };
    this.arrays.set(id, a);
    return a;
  }

  /** An element is pending (again); `fresh`: it was not counted before. */
  pend(arrayId: number, id: number, from: TargetState | null): void {
    const a = this.arrays.get(arrayId);
    if (!a) return;
    if (from === "RUN") a.running--;
    if (from !== null) a.counts[from]--;
    a.counts.PEND++;
    insertSorted(a.pending, id);
  }

  /** An element was loaded running at start-up, or dispatched. */
  run(arrayId: number, id: number, from: TargetState | null): void {
    const a = this.arrays.get(arrayId);
    if (!a) return;
    if (from === "PEND") removeSorted(a.pending, id);
    if (from !== null) a.counts[from]--;
    a.counts.RUN++;
    a.running++;
  }

  /** An element ended. Returns the array's state when it has no element left pending or running (it is then dropped), else null. */
  end(arrayId: number, id: number, from: TargetState, to: TargetState): ArrayState | null {
    const a = this.arrays.get(arrayId);
    if (!a) return null;
    if (from === "PEND") removeSorted(a.pending, id);
    if (from === "RUN") a.running--;
    a.counts[from]--;
    a.counts[to]++;
    if (a.counts.PEND === 0 && a.counts.RUN === 0) {
      this.arrays.delete(arrayId);
      return a;
    }
    return null;
  }
}
