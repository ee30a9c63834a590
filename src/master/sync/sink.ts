/**
 * A follower's side of MASTER_SYNC (docs/protocol.md "MASTER_SYNC"): the
 * leader's batches applied to this master's host table, so that it answers
 * load, hosts and status from fresh memory and, elected, starts with a
 * complete live table. Pure: the clock comes in.
 *
 * Batches are taken only from the master this one currently follows, in its
 * current term, in order: a delta must be the next number after the last
 * batch applied; a full batch may come at any higher number (it replaces
 * what the deltas built). A gap, or the first batch from a new leader not
 * being a full one, is answered `need_full`. A batch at or below the last
 * applied is a duplicate or a replay and is skipped.
 *
 * What is applied is soft state: report values and their age, the report
 * seq of the host's session (so a new leader's replay check continues where
 * the old one was), loss counters, and whether the channel is up at the
 * leader. Nothing is written durably.
 */
import { sessionTag, type DecodedSync, type SyncRecord } from "../../wire/index.ts";
import type { HostTable } from "../hosts/table.ts";

/** On a follower a channel up at the leader holds until the next batch or a leadership change says otherwise. */
export const CHANNEL_AT_LEADER = Number.MAX_SAFE_INTEGER;

/**
 * After a failover, how long a host whose control channel was up at the old
 * leader still shows as up here (not `unreach`) while its agent moves over
 * (agents follow a new leader within agent.reconnectMin, 10 s by default).
 */
export const HANDOVER_GRACE_MS = 30_000;

export type SinkVerdict =
  | { ok: true; records: number; unknown: number; skipped: number }
  | { ok: false; error: "need_full" | "not_leader" | "bad_request"; detail: string };

export interface SinkCounters {
  batches: number;
  records: number;
  /** Records for a host id this master does not know (yet): its registration is still on its way through the log. */
  unknownHosts: number;
  /** Batches at or below the last one applied (duplicates, replays). */
  skipped: number;
  needFull: number;
  refused: number;
}

export class SyncSink {
  private source: { nodeId: number; term: number } | null = null;
  private lastBatch = 0;
  private lastAtMs: number | null = null;
  readonly counters: SinkCounters = { batches: 0, records: 0, unknownHosts: 0, skipped: 0, needFull: 0, refused: 0 };

  constructor(private readonly hosts: HostTable) {}

  /** Whose batches this master applies now, and since when (ms) the last one: null when none from the current leader. */
  freshness(leaderId: number, term: number, nowMs: number): { nodeId: number; ageMs: number } | null {
    const s = this.source;
    if (!s || this.lastAtMs === null || s.nodeId !== leaderId || s.term !== term) return null;
    return { nodeId: s.nodeId, ageMs: Math.max(0, nowMs - this.lastAtMs) };
  }

  /** Leadership changed: forget the stream (a new leader starts with a full batch). */
  reset(): void {
    this.source = null;
    this.lastBatch = 0;
    this.lastAtMs = null;
  }

  /**
   * Applies the datagrams of one request, in order. `from` is the peer the
   * request authenticated as; `leader` whom this master follows now.
   */
  accept(syncs: readonly DecodedSync[], from: number, leader: { id: number; term: number }, nowMs: number): SinkVerdict {
    let records = 0;
    let unknown = 0;
    let skipped = 0;
    /** The batch being read: applied (true) or skipped (false). */
    let open: { batch: number; apply: boolean } | null = null;
    for (const d of syncs) {
      if (d.nodeId !== from) return this.refuse("bad_request", `a datagram names node ${d.nodeId}, the request came from node ${from}`);
      if (d.nodeId !== leader.id || d.term !== leader.term) {
        return this.refuse("not_leader", `this master follows node ${leader.id || "(none)"} in term ${leader.term}; node ${d.nodeId} sent term ${d.term}`);
      }
      if (!open || open.batch !== d.batch) {
        if (open?.apply) return this.refuse("bad_request", `batch ${open.batch} ended without its last datagram`);
        const same = this.source !== null && this.source.nodeId === d.nodeId && this.source.term === d.term;
        if (same && d.batch <= this.lastBatch) {
          open = { batch: d.batch, apply: false };
          skipped++;
          this.counters.skipped++;
        } else if (d.full || (same && d.batch === this.lastBatch + 1)) {
          open = { batch: d.batch, apply: true };
          // A full batch restarts the stream here, whoever sent the last one.
          if (d.full) this.source = { nodeId: d.nodeId, term: d.term };
        } else {
          this.counters.needFull++;
          return { ok: false, error: "need_full", detail: same ? `batch ${d.batch} after ${this.lastBatch}: one is missing` : `no full batch from node ${d.nodeId} in term ${d.term} yet` };
        }
      }
      if (open.apply) {
        for (const r of d.records) {
          if (this.apply(r, nowMs)) records++;
          else unknown++;
        }
      }
      if (d.last) {
        if (open.apply) {
          this.lastBatch = d.batch;
          this.lastAtMs = nowMs;
          this.counters.batches++;
        }
        open = null;
      }
    }
    if (open?.apply) return this.refuse("bad_request", `batch ${open.batch} ended without its last datagram`);
    this.counters.records += records;
    this.counters.unknownHosts += unknown;
    return { ok: true, records, unknown, skipped };
  }

  private refuse(error: "not_leader" | "bad_request", detail: string): SinkVerdict {
    this.counters.refused++;
    return { ok: false, error, detail };
  }

  /** One record into the host table; false if the host is unknown here. */
  private apply(r: SyncRecord, nowMs: number): boolean {
    const h = this.hosts.byHostId(r.hostId);
    if (!h) return false;
    if (r.report) {
      // Overwritten in place like Ingest does: no reader keeps a reference across turns.
      h.report = h.report ? Object.assign(h.report, r.report) : r.report;
      h.lastReportMs = nowMs - r.ageMs;
    }
    h.lostTotal = r.lost;
    h.receivedTotal = r.received;
    const s = h.session;
    if (s && r.session !== 0 && sessionTag(s.nonce) === r.session && r.seq > s.lastSeq) s.lastSeq = r.seq;
    if (!h.connected) h.channelElsewhereUntilMs = r.channel ? CHANNEL_AT_LEADER : 0;
    // What mirrors the table (a follower's load table) gets the leader's report as ingest's would.
    if (r.report) this.hosts.reported(h);
    return true;
  }
}

/**
 * This master became the leader: channels its last batch showed up at the
 * old leader count as up for HANDOVER_GRACE_MS (or until the agent
 * registers here). Returns how many.
 */
export function takeOver(hosts: HostTable, nowMs: number, graceMs = HANDOVER_GRACE_MS): number {
  let n = 0;
  for (const h of hosts.values()) {
    if (h.channelElsewhereUntilMs > nowMs) {
      h.channelElsewhereUntilMs = nowMs + graceMs;
      n++;
    } else h.channelElsewhereUntilMs = 0;
  }
  return n;
}

/** This master stopped leading: what it knew of channels elsewhere is void until the new leader's first batch. */
export function forgetElsewhere(hosts: HostTable): void {
  for (const h of hosts.values()) h.channelElsewhereUntilMs = 0;
}
