/**
 * The leader's side of MASTER_SYNC (docs/protocol.md "MASTER_SYNC"): which
 * hosts changed since the last batch, and the batch's datagrams. Pure: the
 * clock comes in; the host table is read, never written.
 *
 * A batch per tick, numbered from 1 in each term. It is built two ways from
 * the same number: the delta (hosts touched since the previous batch: a
 * report accepted, a control channel up or down) and, only when some
 * follower needs it, the full table. A follower gets exactly one of the two
 * for each number, so after a full batch n it continues with delta n + 1.
 */
import { encodeSync, sessionTag, SYNC_RECORDS_MAX, type SyncRecord } from "../../wire/index.ts";
import { channelUp } from "../hosts/status.ts";
import { hostLoss, type HostEntry, type HostTable } from "../hosts/table.ts";

const U32_MAX = 0xffff_ffff;

export interface SyncBatch {
  batch: number;
  /** The delta: one datagram at least (an empty batch says "nothing changed, still leading"). */
  delta: Uint8Array[];
  /** The whole table under the same batch number, built on first use. */
  full(): Uint8Array[];
  /** Records in the delta. */
  changed: number;
}

/** A host as a sync record, as of `nowMs`. */
export function syncRecordOf(h: HostEntry, nowMs: number): SyncRecord {
  const s = h.session;
  return {
    hostId: h.hostId,
    session: s ? sessionTag(s.nonce) : 0,
    seq: s ? Math.min(U32_MAX, s.lastSeq) : 0,
    ageMs: h.report ? Math.min(U32_MAX, Math.max(0, nowMs - h.lastReportMs)) : 0,
    channel: channelUp(h, nowMs),
    lost: hostLoss(h).lost,
    received: h.receivedTotal,
    report: h.report,
  };
}

/** Records cut into datagrams of at most SYNC_RECORDS_MAX; LAST on the final one. */
export function syncDatagrams(head: { nodeId: number; term: number; batch: number; full: boolean }, records: readonly SyncRecord[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i === 0 || i < records.length; i += SYNC_RECORDS_MAX) {
    const part = records.slice(i, i + SYNC_RECORDS_MAX);
    out.push(encodeSync({ ...head, last: i + SYNC_RECORDS_MAX >= records.length }, part));
  }
  return out;
}

export class SyncSource {
  private readonly dirty = new Set<number>();
  private term = 0;
  private batch = 0;
  private active = false;
  /** Nobody to stream to (a master alone): reports mark nothing. */
  private quiet = false;

  constructor(
    private readonly hosts: HostTable,
    private readonly nodeId: number,
  ) {}

  get leading(): boolean {
    return this.active;
  }

  /** This master leads in `term`: batches count from 1 again. */
  start(term: number): void {
    this.active = true;
    this.term = term;
    this.batch = 0;
    this.dirty.clear();
  }

  stop(): void {
    this.active = false;
    this.dirty.clear();
  }

  /** The host's live state changed (a report, its control channel). */
  touch(hostId: number): void {
    if (this.active && !this.quiet) this.dirty.add(hostId);
  }

  /** No follower to stream to: forget what changed, and mark nothing until the next batch is asked for. */
  idle(): void {
    this.quiet = true;
    this.dirty.clear();
  }

  /** The next batch, or null when not leading. The dirty set is emptied. */
  next(nowMs: number): SyncBatch | null {
    if (!this.active || this.batch >= U32_MAX) return null;
    this.quiet = false;
    const batch = ++this.batch;
    const head = { nodeId: this.nodeId, term: this.term, batch };
    const records: SyncRecord[] = [];
    for (const id of this.dirty) {
      const h = this.hosts.byHostId(id);
      if (h) records.push(syncRecordOf(h, nowMs));
    }
    this.dirty.clear();
    let full: Uint8Array[] | null = null;
    return {
      batch,
      changed: records.length,
      delta: syncDatagrams({ ...head, full: false }, records),
      full: () => (full ??= syncDatagrams({ ...head, full: true }, [...this.hosts.values()].map((h) => syncRecordOf(h, nowMs)))),
    };
  }
}
