/**
 * MASTER_SYNC payload (op 12; layout ours, pinned in docs/protocol.md): the
 * leader's live load, host by host, for the other masters.
 *
 *   off size field
 *   0   4    node_id u32        the sending leader's Raft node id
 *   4   8    term u64           its term, ≤ Number.MAX_SAFE_INTEGER
 *   12  4    batch u32          ≥ 1, per (node_id, term); every datagram of a batch has it
 *   16  1    flags u8           bit 0 FULL (the batch holds every host), bit 1 LAST (last datagram of the batch)
 *   17  1    count u8           records that follow, 0..7
 *   18  2    reserved, 0
 *   20  count × 136 bytes of records:
 *     0   4    host_id u32      ≥ 1
 *     4   4    session u32      sessionTag(nonce) of the host's session at the leader; 0: none
 *     8   4    seq u32          last AUTH seq the leader accepted in that session
 *     12  4    age_ms u32       ms since the leader accepted the host's last report (0 without one)
 *     16  4    flags u32        bit 0 REPORT (the payload holds it), bit 1 CHANNEL (control channel up at the leader)
 *     20  4    lost u32         reports lost over the host's life (AUTH seq gaps), saturating
 *     24  4    received u32     reports received over the host's life, saturating
 *     28  4    reserved, 0
 *     32  104  report          the SLAVE_REPORT payload; all zero without REPORT
 *
 * 7 records fill a datagram to 984 bytes (1016 with an AUTH block), under
 * the 1024-byte limit. Nothing here allocates per byte; decode never throws.
 */
import { assertRange, assertU32 } from "./assert.ts";
import { HEADER_BYTES, MAX_DATAGRAM_BYTES, OP, REPORT_PAYLOAD_BYTES, U32_MAX, type DropReason } from "./constants.ts";
import { writeHeader } from "./header.ts";
import { checkReportPayload, emptyReport, readReportPayload, writeReportPayload, REPORT_STAT_FIELDS, type LoadReport } from "./report.ts";

export const SYNC_FIXED_BYTES = 20;
export const SYNC_RECORD_HEAD_BYTES = 32;
export const SYNC_RECORD_BYTES = SYNC_RECORD_HEAD_BYTES + REPORT_PAYLOAD_BYTES; // 136
/** Records per datagram: (1024 − 12 − 20) / 136, rounded down (also with an AUTH block). */
export const SYNC_RECORDS_MAX = 7;
export const SYNC_FULL = 1;
export const SYNC_LAST = 2;
export const SYNC_REC_REPORT = 1;
export const SYNC_REC_CHANNEL = 2;
const TERM_MAX = Number.MAX_SAFE_INTEGER;

export interface SyncHeader {
  nodeId: number;
  term: number;
  batch: number;
  full: boolean;
  last: boolean;
}

export interface SyncRecord {
  hostId: number;
  /** sessionTag of the leader's session for the host, 0 if it has none. */
  session: number;
  seq: number;
  /** Age of `report` at the leader when the datagram was built (ms); 0 without a report. */
  ageMs: number;
  /** Control channel up at the leader. */
  channel: boolean;
  lost: number;
  received: number;
  report: LoadReport | null;
}

export interface DecodedSync extends SyncHeader {
  records: SyncRecord[];
}

/**
 * Names a session without its key: FNV-1a (32 bit) over the nonce's
 * bytes, never 0. A follower applies a record's `seq` only to the session
 * with the same tag (the record may overtake or trail the log entry that
 * started a new session).
 */
export function sessionTag(nonce: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(nonce)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

const sat = (n: number): number => (n > U32_MAX ? U32_MAX : n);

/**
 * One MASTER_SYNC datagram with up to SYNC_RECORDS_MAX records, no AUTH
 * block (the channel between masters authenticates it; docs/protocol.md).
 * Out-of-range values throw RangeError; `lost` and `received` saturate at
 * 2^32 − 1 and report values are written verbatim.
 */
export function encodeSync(h: SyncHeader, records: readonly SyncRecord[]): Uint8Array {
  assertU32("nodeId", h.nodeId);
  assertRange("term", h.term, 0, TERM_MAX);
  assertRange("batch", h.batch, 1, U32_MAX);
  if (records.length > SYNC_RECORDS_MAX) throw new RangeError(`wire: at most ${SYNC_RECORDS_MAX} sync records per datagram, got ${records.length}`);
  const len = SYNC_FIXED_BYTES + records.length * SYNC_RECORD_BYTES;
  const buf = new Uint8Array(HEADER_BYTES + len);
  const dv = new DataView(buf.buffer);
  writeHeader(dv, OP.MASTER_SYNC, len, 0);
  let p = HEADER_BYTES;
  dv.setUint32(p, h.nodeId, false);
  dv.setUint32(p + 4, Math.floor(h.term / 2 ** 32), false);
  dv.setUint32(p + 8, h.term % 2 ** 32, false);
  dv.setUint32(p + 12, h.batch, false);
  buf[p + 16] = (h.full ? SYNC_FULL : 0) | (h.last ? SYNC_LAST : 0);
  buf[p + 17] = records.length;
  p += SYNC_FIXED_BYTES;
  for (const r of records) {
    assertRange("hostId", r.hostId, 1, U32_MAX);
    assertU32("session", r.session);
    assertU32("seq", r.seq);
    assertU32("ageMs", r.ageMs);
    if (r.report) for (const f of REPORT_STAT_FIELDS) assertU32(f, r.report[f]);
    dv.setUint32(p, r.hostId, false);
    dv.setUint32(p + 4, r.session, false);
    dv.setUint32(p + 8, r.seq, false);
    dv.setUint32(p + 12, r.report ? r.ageMs : 0, false);
    dv.setUint32(p + 16, (r.report ? SYNC_REC_REPORT : 0) | (r.channel ? SYNC_REC_CHANNEL : 0), false);
    dv.setUint32(p + 20, sat(r.lost), false);
    dv.setUint32(p + 24, sat(r.received), false);
    if (r.report) writeReportPayload(dv, p + SYNC_RECORD_HEAD_BYTES, r.report);
    p += SYNC_RECORD_BYTES;
  }
  if (buf.length > MAX_DATAGRAM_BYTES) throw new RangeError("wire: sync datagram over 1024 bytes");
  return buf;
}

/**
 * The payload at `p` of a datagram of `size` bytes whose header checks
 * passed: the decoded sync, or why it is dropped. Checks in order: bad_len
 * (shorter than 20 bytes, count over 7, or size ≠ 20 + count × 136), then
 * bad_value for the header (term, batch 0, unknown flags, reserved bits),
 * then per record in order: bad_value (host_id 0, unknown flags, reserved
 * bits, a report-less record with a non-zero age or payload), then the
 * report checks of a record with REPORT (non_finite, negative, bad_value).
 */
export function decodeSyncPayload(dv: DataView, p: number, size: number): DecodedSync | DropReason {
  if (size - p < SYNC_FIXED_BYTES) return "bad_len";
  const count = dv.getUint8(p + 17);
  if (count > SYNC_RECORDS_MAX || size - p !== SYNC_FIXED_BYTES + count * SYNC_RECORD_BYTES) return "bad_len";
  const termHi = dv.getUint32(p + 4, false);
  const term = termHi * 2 ** 32 + dv.getUint32(p + 8, false);
  const batch = dv.getUint32(p + 12, false);
  const flags = dv.getUint8(p + 16);
  if (term > TERM_MAX || batch === 0 || (flags & ~(SYNC_FULL | SYNC_LAST)) !== 0 || dv.getUint16(p + 18, false) !== 0) return "bad_value";
  const records: SyncRecord[] = [];
  let r = p + SYNC_FIXED_BYTES;
  for (let i = 0; i < count; i++, r += SYNC_RECORD_BYTES) {
    const hostId = dv.getUint32(r, false);
    const rflags = dv.getUint32(r + 16, false);
    if (hostId === 0 || (rflags & ~(SYNC_REC_REPORT | SYNC_REC_CHANNEL)) !== 0 || dv.getUint32(r + 28, false) !== 0) return "bad_value";
    const payload = r + SYNC_RECORD_HEAD_BYTES;
    let report: LoadReport | null = null;
    if (rflags & SYNC_REC_REPORT) {
      const bad = checkReportPayload(dv, payload);
      if (bad) return bad;
      report = readReportPayload(dv, payload, emptyReport());
    } else {
      if (dv.getUint32(r + 12, false) !== 0) return "bad_value";
      for (let b = 0; b < REPORT_PAYLOAD_BYTES; b += 4) if (dv.getUint32(payload + b, false) !== 0) return "bad_value";
    }
    records.push({
      hostId,
      session: dv.getUint32(r + 4, false),
      seq: dv.getUint32(r + 8, false),
      ageMs: dv.getUint32(r + 12, false),
      channel: (rflags & SYNC_REC_CHANNEL) !== 0,
      lost: dv.getUint32(r + 20, false),
      received: dv.getUint32(r + 24, false),
      report,
    });
  }
  return { nodeId: dv.getUint32(p, false), term, batch, full: (flags & SYNC_FULL) !== 0, last: (flags & SYNC_LAST) !== 0, records };
}
