/**
 * The command log with group commit. `propose()` queues a command; all
 * commands queued while the event loop was busy are written in one
 * IMMEDIATE transaction that appends them to the log, applies each, and
 * records lastApplied — so one fsync acknowledges the whole group, and a
 * crash leaves either all of the group or none of it. Promises resolve only
 * after the commit. On open, entries past lastApplied (written by a log
 * that appends without applying, as Raft followers do) are applied.
 */
import { gt, sql } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { applyEntry, getMeta, setLastApplied, type Tx } from "./apply.ts";
import { parseCommand, type ApplyResult, type Command } from "./commands.ts";
import { explainSqliteError, StoreError, type OpenedStore } from "./db.ts";
import { log } from "./schema.ts";

export interface Applied {
  idx: number;
  cmd: Command;
  result: ApplyResult;
}

export interface CommandLogOptions {
  /** Called in log order after each group commits (update in-memory views here). */
  onApplied?: (a: Applied) => void;
  /** Most commands one transaction takes; the rest go in the next. */
  maxBatch?: number;
}

interface Pending {
  cmd: Command;
  resolve: (r: Applied) => void;
  reject: (e: Error) => void;
}

export class CommandLog {
  private readonly db: BunSQLiteDatabase;
  private queue: Pending[] = [];
  private scheduled = false;
  private lastIdx: number;
  private applied: number;
  private readonly maxBatch: number;
  private readonly insertLog;

  constructor(
    private readonly store: OpenedStore,
    private readonly opts: CommandLogOptions = {},
  ) {
    this.db = store.db;
    this.maxBatch = opts.maxBatch ?? 1000;
    this.insertLog = this.db
      .insert(log)
      .values({ idx: sql.placeholder("idx"), term: sql.placeholder("term"), data: sql.placeholder("data") })
      .prepare();
    this.lastIdx = Number(this.db.select({ m: sql<number>`coalesce(max(${log.idx}), 0)` }).from(log).get()?.m ?? 0);
    this.applied = Number(getMeta(this.db, "lastApplied") ?? 0);
  }

  get lastIndex(): number {
    return this.lastIdx;
  }
  get lastApplied(): number {
    return this.applied;
  }

  /** Applies log entries past lastApplied, each in its own transaction. Returns how many. */
  replay(): number {
    const rows = this.db.select().from(log).where(gt(log.idx, this.applied)).orderBy(log.idx).all();
    for (const row of rows) {
      const cmd = parseCommand(row.data);
      const result = this.db.transaction(
        (tx) => {
          const r = applyEntry(tx as unknown as Tx, row.idx, cmd);
          setLastApplied(tx as unknown as Tx, row.idx);
          return r;
        },
        { behavior: "immediate" },
      );
      this.applied = row.idx;
      this.opts.onApplied?.({ idx: row.idx, cmd, result });
    }
    return rows.length;
  }

  /** Appends, commits and applies a command; resolves after it is durable. */
  propose(cmd: Command): Promise<Applied> {
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate lets every request already in the event loop's hands join this group.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let out: Applied[];
      try {
        out = this.db.transaction(
          (tx) => {
            const results: Applied[] = [];
            let idx = this.lastIdx;
            for (const p of batch) {
              idx++;
              this.insertLog.run({ idx, term: 0, data: JSON.stringify(p.cmd) });
              results.push({ idx, cmd: p.cmd, result: applyEntry(tx as unknown as Tx, idx, p.cmd) });
            }
            setLastApplied(tx as unknown as Tx, idx);
            return results;
          },
          { behavior: "immediate" },
        );
      } catch (e) {
        const err = new StoreError(`cannot write state: ${explainSqliteError(e, this.store.path)}`);
        for (const p of batch) p.reject(err);
        continue;
      }
      this.lastIdx += batch.length;
      this.applied = this.lastIdx;
      for (let i = 0; i < batch.length; i++) {
        this.opts.onApplied?.(out[i]!);
        batch[i]!.resolve(out[i]!);
      }
    }
  }
}
