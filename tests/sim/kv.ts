/**
 * The simulated masters' state machine: a map of registers. A write
 * entry's data is "w|key|value"; "" is a leader's no-op; conf entries are
 * membership changes (the node applies them to its RawNode). A snapshot's
 * data is a frozen copy of the map with the index it covers.
 */
import type { ConfState, Entry, Snapshot } from "../../src/raft/types.ts";

export interface KvSnapshotData {
  readonly applied: number;
  readonly term: number;
  readonly kv: readonly (readonly [string, string])[];
}

export function encodeWrite(key: string, value: string): string {
  return `w|${key}|${value}`;
}

export function decodeWrite(data: string): { key: string; value: string } | undefined {
  if (!data.startsWith("w|")) return undefined;
  const bar = data.indexOf("|", 2);
  if (bar < 0) return undefined;
  return { key: data.slice(2, bar), value: data.slice(bar + 1) };
}

export class KvStore {
  readonly map = new Map<string, string>();
  applied = 0;
  appliedTerm = 0;
  conf: ConfState;

  constructor(conf: ConfState) {
    this.conf = { voters: [...conf.voters] };
  }

  static fromSnapshot(s: Snapshot): KvStore {
    const kv = new KvStore(s.meta.confState);
    const data = s.data as KvSnapshotData | undefined;
    if (data) {
      if (data.applied !== s.meta.index) throw new Error(`snapshot data covers ${data.applied}, its meta says ${s.meta.index}`);
      for (const [k, v] of data.kv) kv.map.set(k, v);
    }
    kv.applied = s.meta.index;
    kv.appliedTerm = s.meta.term;
    return kv;
  }

  /** Applies a normal entry (conf entries are the node's business; it records them here too). */
  apply(e: Entry): void {
    if (e.index !== this.applied + 1) throw new Error(`state machine: entry ${e.index} applied after ${this.applied}`);
    this.applied = e.index;
    this.appliedTerm = e.term;
    if (e.type !== "normal") return;
    const w = decodeWrite(e.data);
    if (w) this.map.set(w.key, w.value);
  }

  get(key: string): string | null {
    return this.map.get(key) ?? null;
  }

  snapshotData(): KvSnapshotData {
    return Object.freeze({ applied: this.applied, term: this.appliedTerm, kv: Object.freeze([...this.map].sort(([a], [b]) => (a < b ? -1 : 1))) });
  }
}
