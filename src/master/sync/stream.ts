/**
 * The leader sends its MASTER_SYNC batches to every other master
 * (docs/protocol.md "MASTER_SYNC"; docs/replication.md "Live load on
 * followers"). One tick per SYNC_INTERVAL_MS builds one batch; per
 * follower there is at most one request under way, and batches that come
 * meanwhile wait (at most SYNC_QUEUE_BATCHES_MAX, then a full batch
 * replaces them). A follower that missed anything (a failed request, a
 * queue overflow, its answer `need_full`) gets the full table next, after a
 * backoff while it keeps failing. With nothing changed a request still goes
 * out every SYNC_KEEPALIVE_MS, so a follower knows its copy is current.
 *
 * No I/O of its own: the request (post) and the clock come in.
 */
import { encodeFrame } from "../../wire/index.ts";
import type { SyncBatch, SyncSource } from "./source.ts";

export const SYNC_INTERVAL_MS = 100;
export const SYNC_KEEPALIVE_MS = 500;
export const SYNC_QUEUE_BATCHES_MAX = 50;
export const SYNC_RETRY_MS_MIN = 200;
export const SYNC_RETRY_MS_MAX = 5_000;

export interface SyncPeer {
  id: number;
  addr: string;
}

export type PostResult = { ok: true } | { ok: false; detail: string };

export interface SyncStreamDeps {
  source: SyncSource;
  /** The masters to send to (every member but this one, with an address). */
  peers(): SyncPeer[];
  post(peer: SyncPeer, body: Uint8Array): Promise<PostResult>;
  nowMs(): number;
}

export interface FollowerSyncStats {
  id: number;
  batchesSent: number;
  fullSent: number;
  failures: number;
  /** Consecutive failures now (0 = in step). */
  failing: number;
  lastOkAtMs: number | null;
  lastError: string | null;
}

interface Follower {
  stats: FollowerSyncStats;
  needFull: boolean;
  inflight: boolean;
  queue: { datagrams: Uint8Array[]; changed: number }[];
  lastSentMs: number;
  retryAtMs: number;
}

/** Frames datagrams back to back, as on the TCP report transport. */
export function syncBody(datagrams: readonly Uint8Array[]): Uint8Array {
  const frames = datagrams.map(encodeFrame);
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let off = 0;
  for (const f of frames) {
    out.set(f, off);
    off += f.length;
  }
  return out;
}

export class SyncStream {
  private readonly followers = new Map<number, Follower>();

  constructor(private readonly deps: SyncStreamDeps) {}

  /** Leadership changed: every follower starts with a full batch. */
  reset(): void {
    this.followers.clear();
  }

  stats(): FollowerSyncStats[] {
    return [...this.followers.values()].map((f) => ({ ...f.stats }));
  }

  /** One round: the next batch to every follower. Resolves when the requests it started have ended (tests wait on it). */
  tick(): Promise<void> {
    const now = this.deps.nowMs();
    const peers = this.deps.peers();
    if (peers.length === 0) {
      // A master alone streams to nobody: no batch is built (every host that reported in the
      // last 100 ms, encoded and thrown away), and reports stop marking hosts until a follower comes
      // (which starts with a full batch).
      this.deps.source.idle();
      this.followers.clear();
      return Promise.resolve();
    }
    const b = this.deps.source.next(now);
    if (!b) {
      this.followers.clear();
      return Promise.resolve();
    }
    const started: Promise<void>[] = [];
    const live = new Set<number>();
    for (const peer of peers) {
      live.add(peer.id);
      const f = this.follower(peer.id);
      const p = this.offer(peer, f, b, now);
      if (p) started.push(p);
    }
    for (const id of this.followers.keys()) if (!live.has(id)) this.followers.delete(id);
    return Promise.all(started).then(() => {});
  }

  private follower(id: number): Follower {
    let f = this.followers.get(id);
    if (!f) {
      f = { stats: { id, batchesSent: 0, fullSent: 0, failures: 0, failing: 0, lastOkAtMs: null, lastError: null }, needFull: true, inflight: false, queue: [], lastSentMs: 0, retryAtMs: 0 };
      this.followers.set(id, f);
    }
    return f;
  }

  private offer(peer: SyncPeer, f: Follower, b: SyncBatch, now: number): Promise<void> | null {
    if (f.needFull) {
      // This batch's delta is superseded by the full table sent once the follower can take it.
      if (f.inflight || now < f.retryAtMs) return null;
      f.queue = [];
      f.needFull = false;
      f.stats.fullSent++;
      return this.send(peer, f, [{ datagrams: b.full() }], now);
    }
    f.queue.push({ datagrams: b.delta, changed: b.changed });
    if (f.queue.length > SYNC_QUEUE_BATCHES_MAX) {
      f.queue = [];
      f.needFull = true;
      return null;
    }
    if (f.inflight || now < f.retryAtMs) return null;
    if (!f.queue.some((q) => q.changed > 0) && now - f.lastSentMs < SYNC_KEEPALIVE_MS) return null;
    return this.send(peer, f, f.queue.splice(0), now);
  }

  private async send(peer: SyncPeer, f: Follower, batches: { datagrams: Uint8Array[] }[], now: number): Promise<void> {
    f.inflight = true;
    f.lastSentMs = now;
    f.stats.batchesSent += batches.length;
    let r: PostResult;
    try {
      r = await this.deps.post(peer, syncBody(batches.flatMap((q) => q.datagrams)));
    } catch (e) {
      r = { ok: false, detail: (e as Error).message };
    }
    f.inflight = false;
    if (this.followers.get(peer.id) !== f) return; // reset meanwhile
    if (r.ok) {
      f.stats.failing = 0;
      f.stats.lastOkAtMs = this.deps.nowMs();
      f.stats.lastError = null;
      f.retryAtMs = 0;
      return;
    }
    // What was in the request may be lost, and the queue continues from it: start over with the whole table.
    f.needFull = true;
    f.queue = [];
    f.stats.failures++;
    f.stats.failing++;
    f.stats.lastError = r.detail;
    f.retryAtMs = this.deps.nowMs() + Math.min(SYNC_RETRY_MS_MAX, SYNC_RETRY_MS_MIN * 2 ** Math.min(10, f.stats.failing - 1));
  }
}
