/**
 * Host id → slot number (a block of the load history, a record of the load
 * table), looked up on every accepted report. The state machine hands host
 * ids out from 1 upwards, so they are dense: an Int32Array indexed by id
 * answers with one load where a Map hashes the key (the Maps this replaced
 * cost ~15 ns each per report at 1,000 hosts, a tenth of what history and
 * the table add to a report). Ids from DENSE_MAX on go to a Map, so a
 * sparse id costs memory only for itself.
 */
const DENSE_MAX = 1 << 22;
const NONE = -1;

export class SlotIndex {
  private dense = new Int32Array(1024).fill(NONE);
  private readonly sparse = new Map<number, number>();
  private count = 0;

  /** The slot of `id`, or -1. */
  get(id: number): number {
    if (id < this.dense.length) return this.dense[id]!;
    return id < DENSE_MAX ? NONE : (this.sparse.get(id) ?? NONE);
  }

  has(id: number): boolean {
    return this.get(id) !== NONE;
  }

  set(id: number, slot: number): void {
    if (!(Number.isSafeInteger(id) && id >= 0 && slot >= 0)) throw new RangeError(`SlotIndex: bad id ${id} or slot ${slot}`);
    if (this.get(id) === NONE) this.count++;
    if (id >= DENSE_MAX) {
      this.sparse.set(id, slot);
      return;
    }
    if (id >= this.dense.length) {
      let n = this.dense.length;
      while (n <= id) n *= 2;
      const next = new Int32Array(Math.min(n, DENSE_MAX)).fill(NONE);
      next.set(this.dense);
      this.dense = next;
    }
    this.dense[id] = slot;
  }

  delete(id: number): void {
    if (this.get(id) === NONE) return;
    this.count--;
    if (id < this.dense.length) this.dense[id] = NONE;
    else this.sparse.delete(id);
  }

  get size(): number {
    return this.count;
  }

  /** Every [id, slot], ids ascending within each part; deleting the current id while iterating is safe. */
  *entries(): IterableIterator<[number, number]> {
    for (let id = 0; id < this.dense.length; id++) {
      const s = this.dense[id]!;
      if (s !== NONE) yield [id, s];
    }
    yield* [...this.sparse.entries()];
  }
}
