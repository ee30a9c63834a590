/**
 * Load-report ingest: one datagram in, the host table updated or one drop
 * reason counted (design §2). Pure: the clock is an argument, and the MAC
 * check is injected so the edge may use a faster keyed hasher.
 */
import { DROP_REASONS, OP, decodeDatagram, verifyTag, type DropReason } from "../wire/index.ts";
import type { HostEntry, HostTable } from "./hosts/table.ts";

export type VerifyFn = (buf: Uint8Array, key: Uint8Array) => boolean;

export interface IngestCounters {
  accepted: number;
  dropped: Record<DropReason, number>;
}

export function emptyDropCounts(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

export class Ingest {
  readonly counters: IngestCounters = { accepted: 0, dropped: emptyDropCounts() };

  constructor(
    private readonly hosts: HostTable,
    private readonly opts: { insecure: boolean; verify?: VerifyFn },
  ) {}

  /** Returns the host that was updated, or the reason the datagram was dropped. */
  handle(buf: Uint8Array, srcIp: string, srcPort: number, nowMs: number): HostEntry | DropReason {
    const d = decodeDatagram(buf);
    if (!d.ok) return this.drop(d.reason);
    if (d.op !== OP.SLAVE_REPORT) return this.drop("unexpected_op");

    let host: HostEntry | undefined;
    if (d.auth) {
      host = this.hosts.byHostId(d.auth.hostId);
      const session = host?.session;
      if (!host || !session) return this.drop("unknown_host");
      if (!(this.opts.verify ?? verifyTag)(buf, session.key)) return this.drop("bad_tag");
      const seq = d.auth.seq;
      if (seq <= session.lastSeq) return this.drop("replay");
      if (session.received === 0) session.firstSeq = seq;
      session.lastSeq = seq;
      session.received++;
    } else {
      // Without AUTH a report is only trusted on an --insecure master, from a registered address.
      if (!this.opts.insecure) return this.drop("unauthenticated");
      host = this.hosts.bySource(srcIp, srcPort);
      if (!host) return this.drop("unknown_host");
    }
    host.report = d.report;
    host.lastReportMs = nowMs;
    host.receivedTotal++;
    this.counters.accepted++;
    return host;
  }

  private drop(reason: DropReason): DropReason {
    this.counters.dropped[reason]++;
    return reason;
  }
}
