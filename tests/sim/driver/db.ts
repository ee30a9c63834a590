/**
 * A simulated master's database file, with SQLite's guarantees as lava
 * uses them (WAL mode): a transaction commits whole or not at all; a
 * commit made with synchronous=FULL is on disk when it returns, and makes
 * every earlier commit durable with it; a commit made with
 * synchronous=NORMAL survives the process dying (the kernel has it) but
 * not the machine losing power before the next FULL commit. A power loss
 * keeps a prefix of those unsynced commits, never a hole.
 *
 * Tables are maps; what a transaction changes is written in one go by
 * commit(), which keeps an undo record while the commit is not yet synced.
 */

/** A table of the file: the log, meta, and the state machine's tables. */
export type Table<K, V> = Map<K, V>;

const ABSENT: unique symbol = Symbol("absent");
type Prior = unknown | typeof ABSENT;

/** One change a transaction makes: `value` ABSENT deletes the row. */
export interface Write {
  table: Map<unknown, unknown>;
  key: unknown;
  value: unknown;
}

export class SimDb {
  readonly log: Table<number, { index: number; term: number; type: "normal" | "conf"; data: string }> = new Map();
  readonly meta: Table<string, unknown> = new Map();
  /** The state machine's tables. */
  readonly kv: Table<string, string> = new Map();
  /** Request ids applied (exactly-once writes): id → the log index that applied it. */
  readonly requests: Table<string, number> = new Map();
  /** The same, by log index (for expiry, oldest first). */
  readonly requestsByIndex: Table<number, string> = new Map();

  /** Undo records of the commits since the last synced one, oldest first. */
  private unsynced: [Map<unknown, unknown>, unknown, Prior][][] = [];

  static readonly DELETE = ABSENT;

  get unsyncedCommits(): number {
    return this.unsynced.length;
  }

  commit(writes: readonly Write[], sync: boolean): void {
    const undo: [Map<unknown, unknown>, unknown, Prior][] = [];
    for (const w of writes) {
      const t = w.table;
      undo.push([t, w.key, t.has(w.key) ? t.get(w.key) : ABSENT]);
      if (w.value === ABSENT) t.delete(w.key);
      else t.set(w.key, w.value);
    }
    if (sync) this.unsynced = [];
    else this.unsynced.push(undo);
  }

  /** The machine lost power: commits after the last synced one are lost, except the first `kept` of them. */
  powerLoss(kept: number): number {
    const lost = this.unsynced.splice(Math.max(0, kept));
    for (let i = lost.length - 1; i >= 0; i--) {
      const undo = lost[i]!;
      for (let j = undo.length - 1; j >= 0; j--) {
        const [t, k, prior] = undo[j]!;
        if (prior === ABSENT) t.delete(k);
        else t.set(k, prior);
      }
    }
    this.unsynced = [];
    return lost.length;
  }
}

/**
 * One transaction: reads see its own writes; nothing reaches the file
 * until commit.
 */
export class Tx {
  readonly writes: Write[] = [];
  private readonly staged = new Map<Map<unknown, unknown>, Map<unknown, unknown>>();

  get<K, V>(table: Table<K, V>, key: K): V | undefined {
    const s = this.staged.get(table as Map<unknown, unknown>);
    if (s?.has(key)) {
      const v = s.get(key);
      return v === ABSENT ? undefined : (v as V);
    }
    return table.get(key);
  }

  set<K, V>(table: Table<K, V>, key: K, value: V): void {
    this.put(table as Map<unknown, unknown>, key, value);
  }

  delete<K, V>(table: Table<K, V>, key: K): void {
    this.put(table as Map<unknown, unknown>, key, ABSENT);
  }

  private put(table: Map<unknown, unknown>, key: unknown, value: unknown): void {
    let s = this.staged.get(table);
    if (!s) this.staged.set(table, (s = new Map()));
    s.set(key, value);
    this.writes.push({ table, key, value });
  }
}
