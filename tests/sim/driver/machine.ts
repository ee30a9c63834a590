/**
 * The simulated masters' state machine: a map of registers whose writes
 * carry a client's request id, applied once per id (exactly-once writes,
 * Raft §8 client sessions), as lava's state machine applies a command's
 * requestId once (src/store/requests.ts). An id is remembered for
 * `window` log entries; a retry later than that is applied again (the
 * documented bound). Everything it writes goes through the Ready's
 * transaction.
 */
import type { Entry } from "../../../src/raft/types.ts";
import type { StateMachine } from "../../../src/master/raft/driver.ts";
import type { SimStorage } from "./storage.ts";

export interface KvApplied {
  idx: number;
  key: string;
  value: string;
  requestId: string;
  /** The entry that applied this request id first, when this one was a retry. */
  duplicateOf: number | null;
}

export function encodeKvWrite(key: string, value: string, requestId: string): string {
  return `w|${key}|${value}|${requestId}`;
}

function decodeKvWrite(data: string): { key: string; value: string; requestId: string } | undefined {
  const p = data.split("|");
  if (p.length !== 4 || p[0] !== "w") return undefined;
  return { key: p[1]!, value: p[2]!, requestId: p[3]! };
}

export class KvMachine implements StateMachine<KvApplied> {
  constructor(
    private readonly storage: SimStorage,
    private readonly window: number,
    /** Tests of the simulator: apply every retry again, to show the checks notice. */
    private readonly dedup = true,
  ) {}

  apply(e: Entry): KvApplied | null {
    if (e.data === "") return null;
    const w = decodeKvWrite(e.data);
    if (!w) return null;
    const tx = this.storage.current;
    const db = this.storage.db;
    const expired = (tx.get(db.meta, "requests.expiredUpTo") as number | undefined) ?? 0;
    const upTo = e.index - this.window;
    if (upTo > expired) {
      for (let i = expired + 1; i <= upTo; i++) {
        const id = tx.get(db.requestsByIndex, i);
        if (id === undefined) continue;
        tx.delete(db.requests, id);
        tx.delete(db.requestsByIndex, i);
      }
      tx.set(db.meta, "requests.expiredUpTo", upTo);
    }
    const first = this.dedup ? tx.get(db.requests, w.requestId) : undefined;
    if (first !== undefined) return { idx: e.index, ...w, duplicateOf: first };
    tx.set(db.kv, w.key, w.value);
    tx.set(db.requests, w.requestId, e.index);
    tx.set(db.requestsByIndex, e.index, w.requestId);
    return { idx: e.index, ...w, duplicateOf: null };
  }
}
