/**
 * One simulated master: a RawNode (null while crashed), its "disk" (a
 * MemoryStorage holding only what was fsynced), its state machine, and
 * the client requests waiting on it.
 */
import type { MemoryStorage } from "../../src/raft/memory-storage.ts";
import type { RawNode } from "../../src/raft/node.ts";
import type { NodeId, ReadState } from "../../src/raft/types.ts";
import { KvStore } from "./kv.ts";
import type { ClientOp } from "./workload.ts";

/** Where a crash planned for the next Ready strikes. */
export type TornCrash = "before_fsync" | "after_fsync" | "after_send";

export class SimNode {
  raw: RawNode | null = null;
  kv: KvStore;
  /** Bumped at every crash and restart: events of an earlier life are ignored. */
  life = 0;
  readyScheduled = false;
  pausedUntil = 0;
  tornCrash: TornCrash | null = null;
  /** Removed from the cluster (by a membership change): stopped for good. */
  removed = false;
  /** Proposals waiting to be applied here, by index. */
  writes = new Map<number, { term: number; op: ClientOp }>();
  /** Reads waiting for their ReadState, by context. */
  reads = new Map<string, ClientOp>();
  /** ReadStates waiting for the state machine to catch up. */
  readWaits: ReadState[] = [];
  crashes = 0;
  /** Multiplier of its tick interval (clock drift). */
  clockRate = 1;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
  ) {
    this.kv = KvStore.fromSnapshot(storage.snapshot());
  }

  get up(): boolean {
    return this.raw !== null;
  }

  /** Forget everything of this life except the disk. */
  dropVolatile(): void {
    this.raw = null;
    this.life++;
    this.readyScheduled = false;
    this.tornCrash = null;
    this.pausedUntil = 0;
    this.writes.clear();
    this.reads.clear();
    this.readWaits = [];
  }
}
