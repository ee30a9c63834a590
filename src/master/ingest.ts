/**
 * Load-report ingest: one datagram in, the host table updated or one drop
 * reason counted (design §2). Pure: the clock is an argument, and the MAC
 * check is injected so the edge may use a faster keyed hasher.
 *
 * This is the master's hottest path (every agent, every few seconds), so a
 * valid report allocates nothing: the datagram is copied into one
 * long-lived buffer with its own DataView, checked there by the codec's
 * allocation-free report check, and its payload is written into the host's
 * own report record. The results are those of wire.decodeDatagram
 * (tests/master/ingest.test.ts holds them to it).
 */
import {
  AUTH_END_OFFSET,
  AUTH_HOST_ID_OFFSET,
  AUTH_SEQ_OFFSET,
  DROP_REASONS,
  MAX_DATAGRAM_BYTES,
  NOT_A_REPORT,
  REPORT_PAYLOAD_BYTES,
  checkReportDatagram,
  decodeDatagram,
  emptyReport,
  readReportPayload,
  verifyTag,
  type DropReason,
} from "../wire/index.ts";
import type { HostEntry, HostTable } from "./hosts/table.ts";

export type VerifyFn = (buf: Uint8Array, key: Uint8Array) => boolean;

export interface IngestCounters {
  accepted: number;
  dropped: Record<DropReason, number>;
}

export function emptyDropCounts(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

/** A SLAVE_REPORT with AUTH is always this long. */
const AUTH_REPORT_BYTES = AUTH_END_OFFSET + REPORT_PAYLOAD_BYTES;

export class Ingest {
  readonly counters: IngestCounters = { accepted: 0, dropped: emptyDropCounts() };
  private readonly verify: VerifyFn;
  /**
   * Every datagram is copied here before it is read: the first `.buffer`
   * access on a Buffer that Bun's UDP socket hands out costs more than
   * copying ≤ 1 KiB (docs/performance.md), and a fixed buffer lets the
   * DataView and the tag check's view be made once.
   */
  private readonly scratch = new Uint8Array(MAX_DATAGRAM_BYTES);
  private readonly dv = new DataView(this.scratch.buffer);
  /** The whole of an authenticated report in `scratch`: the one view the tag check is handed. */
  private readonly authReport = this.scratch.subarray(0, AUTH_REPORT_BYTES);

  constructor(
    private readonly hosts: HostTable,
    private readonly opts: { insecure: boolean; verify?: VerifyFn },
  ) {
    this.verify = opts.verify ?? verifyTag;
  }

  /**
   * Returns the host that was updated, or the reason the datagram was
   * dropped. `buf` is only read during the call.
   */
  handle(buf: Uint8Array, srcIp: string, srcPort: number, nowMs: number): HostEntry | DropReason {
    const size = buf.length;
    if (size > MAX_DATAGRAM_BYTES) return this.drop("long");
    this.scratch.set(buf);
    const dv = this.dv;
    const p = checkReportDatagram(dv, size);
    if (typeof p === "string") return this.drop(p);
    if (p === NOT_A_REPORT) return this.drop(this.notAReport(size));

    let host: HostEntry | undefined;
    if (p === AUTH_END_OFFSET) {
      host = this.hosts.byHostId(dv.getUint32(AUTH_HOST_ID_OFFSET, false));
      const session = host?.session;
      if (!host || !session) return this.drop("unknown_host");
      if (!this.verify(this.authReport, session.key)) return this.drop("bad_tag");
      const seq = dv.getUint32(AUTH_SEQ_OFFSET, false);
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
    // Overwritten in place: readers of host.report use it within one turn and keep no reference.
    host.report = readReportPayload(dv, p, host.report ?? emptyReport());
    host.lastReportMs = nowMs;
    host.receivedTotal++;
    this.counters.accepted++;
    return host;
  }

  /** Why a datagram with a valid header of another op is dropped (rare: decoded in full). */
  private notAReport(size: number): DropReason {
    const d = decodeDatagram(this.scratch.subarray(0, size));
    return d.ok ? "unexpected_op" : d.reason;
  }

  private drop(reason: DropReason): DropReason {
    this.counters.dropped[reason]++;
    return reason;
  }
}
