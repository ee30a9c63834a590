/**
 * Live load between masters (MASTER_SYNC, op 12; docs/protocol.md and
 * docs/replication.md "Live load on followers"). The leader streams what
 * changed in its host table to every follower over the peer channel
 * (POST /_raft/sync, peer-signed like the Raft requests), every
 * SYNC_INTERVAL_MS; a follower applies it to its own table. So a follower
 * answers load, hosts and status from fresh memory, and a newly elected
 * leader starts with every host's last load instead of an empty table.
 *
 * LiveSync wires the pure parts (source.ts, sink.ts, stream.ts) to a timer
 * and fetch(); the route that receives is src/master/http/sync-api.ts.
 */
import type { PeerLink } from "../../config/index.ts";
import { explainFailure } from "../../config/index.ts";
import { logger } from "../../log/index.ts";
import type { HostTable } from "../hosts/table.ts";
import { forgetElsewhere, SyncSink, takeOver } from "./sink.ts";
import { SyncSource } from "./source.ts";
import { SyncStream, SYNC_INTERVAL_MS, type PostResult, type SyncPeer } from "./stream.ts";

export { SyncSink, takeOver, forgetElsewhere, HANDOVER_GRACE_MS, CHANNEL_AT_LEADER, type SinkVerdict, type SinkCounters } from "./sink.ts";
export { SyncSource, syncRecordOf, syncDatagrams, type SyncBatch } from "./source.ts";
export { SyncStream, syncBody, SYNC_INTERVAL_MS, SYNC_KEEPALIVE_MS, SYNC_QUEUE_BATCHES_MAX, type SyncPeer, type PostResult, type FollowerSyncStats } from "./stream.ts";

const log = logger("sync");

export const SYNC_PATH = "/_raft/sync";
/** A request that takes longer has failed (the follower then gets a full batch). */
export const SYNC_REQUEST_TIMEOUT_MS = 5_000;
/**
 * A follower answers reads itself only while its last batch is at most this
 * old; otherwise (leader gone, stream broken) it forwards them to the leader.
 */
export const SYNC_FRESH_MS = 2_000;

export interface LiveSyncDeps {
  hosts: HostTable;
  nodeId: number;
  /** The other members, with their HTTP addresses. */
  peers(): SyncPeer[];
  link: PeerLink;
  /** Peer-signature headers for a POST of `body` to `path` (src/master/raft/peer-auth.ts). */
  sign(path: string, body: Uint8Array): Record<string, string>;
  nowMs(): number;
}

export class LiveSync {
  readonly source: SyncSource;
  readonly sink: SyncSink;
  readonly stream: SyncStream;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly deps: LiveSyncDeps) {
    this.source = new SyncSource(deps.hosts, deps.nodeId);
    this.sink = new SyncSink(deps.hosts);
    this.stream = new SyncStream({ source: this.source, peers: deps.peers, post: (p, body) => this.post(p, body), nowMs: deps.nowMs });
  }

  start(): void {
    this.timer ??= setInterval(() => {
      try {
        void this.stream.tick().catch((e: Error) => log.error("sync round failed", e));
      } catch (e) {
        log.error("sync round failed", e);
      }
    }, SYNC_INTERVAL_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.source.stop();
  }

  /** A host's live state changed on the leader (report accepted, channel up or down). */
  touch(hostId: number): void {
    this.source.touch(hostId);
  }

  /** Leadership changed. A new leader keeps the old leader's channels shown as up for a grace. */
  leadership(leading: boolean, term: number): void {
    this.sink.reset();
    this.stream.reset();
    if (leading) {
      const n = takeOver(this.deps.hosts, this.deps.nowMs());
      this.source.start(term);
      if (n > 0) log.info(`${n} host(s) had their control channel at the previous leader; shown as connected while their agents move here`);
    } else {
      this.source.stop();
      forgetElsewhere(this.deps.hosts);
    }
  }

  private async post(peer: SyncPeer, body: Uint8Array): Promise<PostResult> {
    const { scheme, tls } = this.deps.link;
    try {
      const res = await fetch(`${scheme}://${peer.addr}${SYNC_PATH}`, {
        tls,
        method: "POST",
        headers: { "content-type": "application/octet-stream", ...this.deps.sign(SYNC_PATH, body) },
        body,
        signal: AbortSignal.timeout(SYNC_REQUEST_TIMEOUT_MS),
      });
      if (res.status === 204) return { ok: true };
      const answer = (await res.json().catch(() => ({}))) as { error?: string; detail?: string };
      const detail = `${answer.error ?? `HTTP ${res.status}`}${answer.detail ? `: ${answer.detail}` : ""}`;
      if (answer.error !== "need_full" && answer.error !== "not_leader") log.warn(`master ${peer.id} (${peer.addr}) refused live load: ${detail}`);
      return { ok: false, detail };
    } catch (e) {
      return { ok: false, detail: explainFailure(e, scheme, "master.tls.ca") };
    }
  }
}
