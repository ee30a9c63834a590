/**
 * decodeDatagram: structural and plausibility checks of one received
 * datagram, no key needed. Never throws; every failure is a DropReason.
 *
 * Check order (the first failing check names the reason):
 *   1. short        fewer than 12 bytes
 *   2. long         more than 1024 bytes
 *   3. unknown_op   op_code not 10..13
 *   4. bad_flags    an `extra` bit other than bit 0 set
 *   5. bad_len      header len ≠ bytes after the header, or len impossible
 *                   for the op and flags (see each op)
 *   6. per op:      SLAVE_REPORT non_finite, negative, bad_value;
 *                   MASTER_ANN bad_len, bad_value;
 *                   MASTER_SYNC bad_len, bad_value, then each record's report checks
 * The tag is not checked here: see verifyTag. bad_tag, replay,
 * unknown_host, unauthenticated and unexpected_op are the master's.
 */
import { decodeAnnouncePayload, type DecodedAnnounce } from "./announce.ts";
import type { AuthBlock } from "./auth.ts";
import {
  AUTH_BLOCK_BYTES,
  DROP_REASONS,
  AUTH_END_OFFSET,
  AUTH_HOST_ID_OFFSET,
  AUTH_SEQ_OFFSET,
  AUTH_TAG_OFFSET,
  FLAG_AUTH,
  HEADER_BYTES,
  MAX_DATAGRAM_BYTES,
  OP,
  REPORT_PAYLOAD_BYTES,
  type DropReason,
  type OpCode,
} from "./constants.ts";
import { checkReportPayload, emptyReport, readReportPayload, type LoadReport } from "./report.ts";
import { decodeSyncPayload, type DecodedSync } from "./sync.ts";

export type Decoded =
  | { ok: true; op: typeof OP.SLAVE_REPORT; report: LoadReport; auth: AuthBlock | null }
  | { ok: true; op: typeof OP.MASTER_ANN; announce: DecodedAnnounce; auth: AuthBlock | null }
  | { ok: true; op: typeof OP.MASTER_SYNC; sync: DecodedSync; auth: AuthBlock | null }
  | { ok: true; op: typeof OP.ACK; auth: AuthBlock | null }
  | { ok: false; reason: DropReason };

export type DecodeDrop = Extract<Decoded, { ok: false }>;

// One frozen result object per reason, built once: a drop allocates nothing.
const DROPS = Object.fromEntries(
  DROP_REASONS.map((reason) => [reason, Object.freeze({ ok: false as const, reason })]),
) as Record<DropReason, DecodeDrop>;
function drop(reason: DropReason): DecodeDrop {
  return DROPS[reason];
}

/** The AUTH block of a datagram whose size was checked; tag is a view. */
function readAuth(buf: Uint8Array, dv: DataView): AuthBlock {
  return {
    hostId: dv.getUint32(AUTH_HOST_ID_OFFSET, false),
    seq: dv.getUint32(AUTH_SEQ_OFFSET, false),
    tag: buf.subarray(AUTH_TAG_OFFSET, AUTH_END_OFFSET),
  };
}

/** Checks 1–5 (the per-op lengths aside) on a view of the whole datagram: its op code, or why it is dropped. */
function checkHeader(dv: DataView, size: number): OpCode | DropReason {
  if (size < HEADER_BYTES) return "short";
  if (size > MAX_DATAGRAM_BYTES) return "long";
  const op = dv.getUint32(0, false);
  const len = dv.getUint32(4, false);
  const extra = dv.getUint32(8, false);
  if (op < OP.MASTER_ANN || op > OP.ACK) return "unknown_op";
  if ((extra & ~FLAG_AUTH) !== 0) return "bad_flags";
  if (len !== size - HEADER_BYTES) return "bad_len";
  if ((extra & FLAG_AUTH) !== 0 && len < AUTH_BLOCK_BYTES) return "bad_len";
  return op as OpCode;
}

/** Bytes of AUTH block after the header of a datagram checkHeader accepted: 0 or AUTH_BLOCK_BYTES. */
function authBytesOf(dv: DataView): number {
  return (dv.getUint32(8, false) & FLAG_AUTH) !== 0 ? AUTH_BLOCK_BYTES : 0;
}

/** SLAVE_REPORT checks after checkHeader: the payload's offset, or why it is dropped. */
function checkReportBody(dv: DataView, size: number): number | DropReason {
  const p = HEADER_BYTES + authBytesOf(dv);
  if (size !== p + REPORT_PAYLOAD_BYTES) return "bad_len";
  return checkReportPayload(dv, p) ?? p;
}

/** What checkReportDatagram returns for a well-formed header of another op (decodeDatagram says more). */
export const NOT_A_REPORT = 0;

/**
 * Every check decodeDatagram makes of a SLAVE_REPORT, in the same order,
 * without allocating: on a view of the whole datagram (`size` bytes), the
 * payload's offset (HEADER_BYTES, or AUTH_END_OFFSET with AUTH) if it is a
 * valid report, NOT_A_REPORT if it is a valid header of another op, else
 * the drop reason. It is the master's hot path; read the payload with
 * readReportPayload, host_id and seq at AUTH_HOST_ID_OFFSET and
 * AUTH_SEQ_OFFSET.
 */
export function checkReportDatagram(dv: DataView, size: number): number | DropReason {
  const op = checkHeader(dv, size);
  if (typeof op === "string") return op;
  if (op !== OP.SLAVE_REPORT) return NOT_A_REPORT;
  return checkReportBody(dv, size);
}

/**
 * Decodes one datagram. `buf` may be a view into a larger buffer (Bun UDP
 * hands out Buffers); returned `tag` and `bitmap` are views into it, so copy
 * them if you keep them past the buffer's reuse.
 */
export function decodeDatagram(buf: Uint8Array): Decoded {
  const size = buf.length;
  const dv = new DataView(buf.buffer, buf.byteOffset, size);
  const op = checkHeader(dv, size);
  if (typeof op === "string") return drop(op);
  const authBytes = authBytesOf(dv);

  switch (op) {
    case OP.SLAVE_REPORT: {
      const p = checkReportBody(dv, size);
      if (typeof p === "string") return drop(p);
      return { ok: true, op: OP.SLAVE_REPORT, report: readReportPayload(dv, p, emptyReport()), auth: authBytes > 0 ? readAuth(buf, dv) : null };
    }
    case OP.MASTER_ANN: {
      const announce = decodeAnnouncePayload(buf, dv, HEADER_BYTES + authBytes, size);
      if (typeof announce === "string") return drop(announce);
      return { ok: true, op: OP.MASTER_ANN, announce, auth: authBytes > 0 ? readAuth(buf, dv) : null };
    }
    case OP.MASTER_SYNC: {
      const sync = decodeSyncPayload(dv, HEADER_BYTES + authBytes, size);
      if (typeof sync === "string") return drop(sync);
      return { ok: true, op: OP.MASTER_SYNC, sync, auth: authBytes > 0 ? readAuth(buf, dv) : null };
    }
    default:
      // ACK carries no payload in v1.
      if (size !== HEADER_BYTES + authBytes) return drop("bad_len");
      return { ok: true, op: OP.ACK, auth: authBytes > 0 ? readAuth(buf, dv) : null };
  }
}
