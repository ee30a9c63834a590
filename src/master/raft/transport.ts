/**
 * Raft messages between masters over HTTP (design §6). A batch of
 * messages is POSTed to its target, which steps it, writes what it must, and
 * answers with its own messages for the sender in the response body (200,
 * signed), or 204 when it has none; everything else it sends travels as
 * requests of its own.
 *
 * Per peer there are three independent streams, so that one never waits
 * behind another:
 *   - votes  (/_raft/vote: prevote, vote, their answers, timeout_now)
 *   - appends (/_raft/append: everything else, heartbeats included)
 *   - snapshots (/_raft/snapshot: a streamed database copy, one at a time)
 * Each of the first two has at most REQUESTS_IN_FLIGHT_MAX requests under
 * way; what is queued meanwhile goes out together in the next one
 * (batching), bounded in count.
 * A failed request drops its messages (Raft retries what matters) and tells
 * the core the peer is unreachable; the stream then backs off briefly.
 */
import { unlinkSync, statSync } from "node:fs";
import type { Message, SnapshotMeta } from "../../raft/types.ts";
import { logger } from "../../log/index.ts";
import { explainFailure, type ClientTls } from "../../config/index.ts";
import { bodyHash, type PeerAuth } from "./peer-auth.ts";

const log = logger("raft");

/** Most messages one POST carries. */
export const BATCH_MESSAGES_MAX = 64;
/**
 * Requests under way at once per stream. A follower answers an append only
 * once it has written it, so with one request the leader would wait a
 * whole fsync between batches; with two, the next batch travels while the
 * follower writes the last one (measured: +10–15 % writes/s at 64 clients).
 * Two requests can arrive out of order; Raft's consistency check rejects
 * the early one and the leader resends, so order is an optimisation only.
 */
export const REQUESTS_IN_FLIGHT_MAX = 2;
/** Most messages queued for one peer's stream; past it the oldest are dropped. */
export const QUEUE_MESSAGES_MAX = 4096;
/** A request to a peer that takes longer than this has failed. */
export const REQUEST_TIMEOUT_MS = 5_000;
const BACKOFF_MS_MIN = 20;
const BACKOFF_MS_MAX = 1_000;
export const SNAPSHOT_HEADER = "x-lava-snapshot";

const VOTE_TYPES: ReadonlySet<Message["type"]> = new Set(["prevote", "prevote_resp", "vote", "vote_resp", "timeout_now"]);

export interface PeerStats {
  id: number;
  /** Round trip of the last successful request, ms. */
  lastLatencyMs: number | null;
  consecutiveFailures: number;
  /** Date.now() of the last successful request. */
  lastOkAtMs: number | null;
  messagesSent: number;
  messagesDropped: number;
}

export interface ResyncStats {
  snapshotsCreated: number;
  sendAttempts: number;
  sendSuccesses: number;
  sendFailures: number;
}

export interface SnapshotProgress {
  to: number;
  bytesSent: number;
  bytesTotal: number;
  startedAtMs: number;
}

export interface TransportDeps {
  selfId: number;
  /** This master's own HTTP address, sent with every request. */
  selfAddr: string;
  addrOf(id: number): string | null;
  auth: PeerAuth;
  /** "http" or "https" (TLS between masters). */
  scheme: "http" | "https";
  /** fetch()'s `tls` for https peers: the CA of master.tls.ca; undefined = the system store. */
  tls?: ClientTls | undefined;
  nowMs(): number;
  /** The core should probe this peer again. */
  onUnreachable(id: number): void;
  /** A peer answered our request (nonce `requestNonce`) with messages of its own (a JSON array; the headers sign it). */
  onAnswers(id: number, path: string, requestNonce: string, headers: Headers, text: string): void;
  /** A snapshot send finished. */
  onSnapshotSent(id: number, ok: boolean, detail: string): void;
  /** Writes a consistent copy of the state into `path` and says what it covers. */
  makeSnapshot(path: string): Promise<SnapshotMeta>;
  /** Where temporary snapshot files go. */
  snapshotPath(to: number): string;
  snapshotTimeoutMs: number;
}

interface Stream {
  queue: Message[];
  /** Requests under way (at most REQUESTS_IN_FLIGHT_MAX). */
  inflight: number;
  retryAtMs: number;
  timer: ReturnType<typeof setTimeout> | null;
}

interface Peer {
  stats: PeerStats;
  votes: Stream;
  appends: Stream;
  snapshot: SnapshotProgress | null;
}

const newStream = (): Stream => ({ queue: [], inflight: 0, retryAtMs: 0, timer: null });

export class HttpTransport {
  private readonly peers = new Map<number, Peer>();
  readonly resync: ResyncStats = { snapshotsCreated: 0, sendAttempts: 0, sendSuccesses: 0, sendFailures: 0 };
  private stopped = false;

  constructor(private readonly deps: TransportDeps) {}

  private peer(id: number): Peer {
    let p = this.peers.get(id);
    if (!p) {
      p = {
        stats: { id, lastLatencyMs: null, consecutiveFailures: 0, lastOkAtMs: null, messagesSent: 0, messagesDropped: 0 },
        votes: newStream(),
        appends: newStream(),
        snapshot: null,
      };
      this.peers.set(id, p);
    }
    return p;
  }

  stats(id: number): PeerStats | null {
    return this.peers.get(id)?.stats ?? null;
  }
  snapshotProgress(id: number): SnapshotProgress | null {
    return this.peers.get(id)?.snapshot ?? null;
  }

  send(msgs: Message[]): void {
    if (this.stopped) return;
    const touched = new Set<Stream>();
    for (const m of msgs) {
      if (m.to === this.deps.selfId) continue;
      const p = this.peer(m.to);
      if (m.type === "snapshot") {
        this.sendSnapshot(p, m);
        continue;
      }
      const s = VOTE_TYPES.has(m.type) ? p.votes : p.appends;
      s.queue.push(m);
      if (s.queue.length > QUEUE_MESSAGES_MAX) {
        const dropped = s.queue.length - QUEUE_MESSAGES_MAX;
        s.queue.splice(0, dropped);
        p.stats.messagesDropped += dropped;
      }
      touched.add(s);
    }
    for (const p of this.peers.values()) {
      if (touched.has(p.votes)) this.pump(p, p.votes, "/_raft/vote");
      if (touched.has(p.appends)) this.pump(p, p.appends, "/_raft/append");
    }
  }

  stop(): void {
    this.stopped = true;
    for (const p of this.peers.values()) {
      for (const s of [p.votes, p.appends]) if (s.timer) clearTimeout(s.timer);
    }
  }

  private url(id: number, path: string): string | null {
    const addr = this.deps.addrOf(id);
    return addr ? `${this.deps.scheme}://${addr}${path}` : null;
  }

  private pump(p: Peer, s: Stream, path: string): void {
    if (s.inflight >= REQUESTS_IN_FLIGHT_MAX || s.queue.length === 0 || this.stopped) return;
    const wait = s.retryAtMs - this.deps.nowMs();
    if (wait > 0) {
      s.timer ??= setTimeout(() => {
        s.timer = null;
        this.pump(p, s, path);
      }, wait);
      return;
    }
    const url = this.url(p.stats.id, path);
    const batch = s.queue.splice(0, BATCH_MESSAGES_MAX);
    if (!url) {
      p.stats.messagesDropped += batch.length;
      return;
    }
    s.inflight++;
    const started = performance.now();
    const body = JSON.stringify(batch);
    const signed = this.deps.auth.sign(this.deps.selfId, this.deps.selfAddr, "POST", path, bodyHash(body));
    fetch(url, {
      tls: this.deps.tls,
      method: "POST",
      headers: { "content-type": "application/json", ...signed.headers },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
      .then(async (res) => {
        const text = await res.text().catch(() => "");
        if (!res.ok) throw new Error(`HTTP ${res.status}${res.status === 401 ? `: ${errorDetail(text)}` : ""}`);
        p.stats.lastLatencyMs = Math.round((performance.now() - started) * 100) / 100;
        p.stats.lastOkAtMs = this.deps.nowMs();
        p.stats.consecutiveFailures = 0;
        p.stats.messagesSent += batch.length;
        s.retryAtMs = 0;
        if (res.status === 200 && text) this.deps.onAnswers(p.stats.id, path, signed.nonce, res.headers, text);
      })
      .catch((e: Error) => {
        p.stats.consecutiveFailures++;
        p.stats.messagesDropped += batch.length;
        const backoff = Math.min(BACKOFF_MS_MAX, BACKOFF_MS_MIN * 2 ** Math.min(10, p.stats.consecutiveFailures - 1));
        s.retryAtMs = this.deps.nowMs() + backoff;
        if (p.stats.consecutiveFailures === 1) log.info(`master ${p.stats.id} (${this.deps.addrOf(p.stats.id)}) unreachable: ${explainFailure(e, this.deps.scheme, "master.tls.ca")}`);
        this.deps.onUnreachable(p.stats.id);
      })
      .finally(() => {
        s.inflight--;
        this.pump(p, s, path);
      });
  }

  private sendSnapshot(p: Peer, m: Message): void {
    if (p.snapshot) return; // one at a time per peer; the core asks again if this one fails
    const to = p.stats.id;
    const url = this.url(to, "/_raft/snapshot");
    if (!url) return;
    const path = this.deps.snapshotPath(to);
    this.resync.sendAttempts++;
    // Counted as in transfer from now: the copy (in a worker thread) is part of it.
    const progress: SnapshotProgress = { to, bytesSent: 0, bytesTotal: 0, startedAtMs: this.deps.nowMs() };
    p.snapshot = progress;
    this.deps
      .makeSnapshot(path)
      .then(async (meta) => {
        this.resync.snapshotsCreated++;
        if (this.stopped) throw new Error("the master is stopping");
        const sha256 = await fileHash(path);
        this.streamSnapshot(p, m, url, path, meta, sha256, progress);
      })
      .catch((e: Error) => {
        p.snapshot = null;
        this.resync.sendFailures++;
        log.error(`cannot make a snapshot for master ${to}: ${e.message}`);
        this.deps.onSnapshotSent(to, false, e.message);
        try {
          unlinkSync(path);
        } catch {
          /* never made */
        }
      });
  }

  private streamSnapshot(p: Peer, m: Message, url: string, path: string, meta: SnapshotMeta, sha256: string, progress: SnapshotProgress): void {
    const to = p.stats.id;
    const total = statSync(path).size;
    progress.bytesTotal = total;
    log.info(`sending master ${to} a snapshot up to entry ${meta.index} (${(total / 1048576).toFixed(1)} MiB)`);
    const source = Bun.file(path).stream();
    const reader = source.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        const { done, value } = await reader.read();
        if (done) ctrl.close();
        else {
          progress.bytesSent += value.byteLength;
          ctrl.enqueue(value);
        }
      },
      cancel() {
        void reader.cancel();
      },
    });
    // The signature covers this header, and the header the body's SHA-256 (checked by the receiver before it installs anything).
    const header = JSON.stringify({ from: this.deps.selfId, to, term: m.term, meta, bytes: total, sha256 });
    const signed = this.deps.auth.sign(this.deps.selfId, this.deps.selfAddr, "POST", "/_raft/snapshot", bodyHash(header));
    fetch(url, {
      tls: this.deps.tls,
      method: "POST",
      headers: { "content-type": "application/octet-stream", ...signed.headers, [SNAPSHOT_HEADER]: header },
      body,
      signal: AbortSignal.timeout(this.deps.snapshotTimeoutMs),
    })
      .then(async (res) => {
        const text = await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
        this.resync.sendSuccesses++;
        log.info(`master ${to} took the snapshot up to entry ${meta.index}`);
        this.deps.onSnapshotSent(to, true, `snapshot up to entry ${meta.index} installed (${total} bytes)`);
      })
      .catch((e: Error) => {
        this.resync.sendFailures++;
        log.warn(`snapshot to master ${to} failed: ${e.message}`);
        this.deps.onSnapshotSent(to, false, e.message);
      })
      .finally(() => {
        p.snapshot = null;
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      });
  }
}

/** SHA-256 of a file (hex), read as a stream. */
export async function fileHash(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

/** The `detail` of a JSON error answer, for the log. */
function errorDetail(text: string): string {
  try {
    const d = (JSON.parse(text) as { detail?: unknown }).detail;
    return typeof d === "string" ? d.slice(0, 300) : text.slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}
