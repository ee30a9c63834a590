/**
 * The simulator's discrete-event queue: a binary heap ordered by time,
 * then by insertion, so that two runs of one seed pop the same events in
 * the same order.
 */
interface Item {
  at: number;
  seq: number;
  fn: () => void;
}

export class EventQueue {
  private heap: Item[] = [];
  private seq = 0;
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Runs `fn` at `at` (never before now). */
  at(at: number, fn: () => void): void {
    const item: Item = { at: Math.max(at, this.now), seq: this.seq++, fn };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  after(delayMs: number, fn: () => void): void {
    this.at(this.now + delayMs, fn);
  }

  /** Pops and runs the next event; false when none is left or the next is past `until`. */
  runNext(until = Infinity): boolean {
    const h = this.heap;
    const top = h[0];
    if (!top || top.at > until) return false;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    this.now = top.at;
    top.fn();
    return true;
  }
}

function before(a: Item, b: Item): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
