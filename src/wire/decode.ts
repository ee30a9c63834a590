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
 *                   MASTER_ANN bad_len, bad_value
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
} from "./constants.ts";
import { decodeReportPayload, type LoadReport } from "./report.ts";

export type Decoded =
  | { ok: true; op: typeof OP.SLAVE_REPORT; report: LoadReport; auth: AuthBlock | null }
  | { ok: true; op: typeof OP.MASTER_ANN; announce: DecodedAnnounce; auth: AuthBlock | null }
  | { ok: true; op: typeof OP.MASTER_SYNC | typeof OP.ACK; auth: AuthBlock | null }
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

/**
 * Decodes one datagram. `buf` may be a view into a larger buffer (Bun UDP
 * hands out Buffers); returned `tag` and `bitmap` are views into it, so copy
 * them if you keep them past the buffer's reuse.
 */
export function decodeDatagram(buf: Uint8Array): Decoded {
  const size = buf.length;
  if (size < HEADER_BYTES) return drop("short");
  if (size > MAX_DATAGRAM_BYTES) return drop("long");
  const dv = new DataView(buf.buffer, buf.byteOffset, size);
  const op = dv.getUint32(0, false);
  const len = dv.getUint32(4, false);
  const extra = dv.getUint32(8, false);
  if (op < OP.MASTER_ANN || op > OP.ACK) return drop("unknown_op");
  if ((extra & ~FLAG_AUTH) !== 0) return drop("bad_flags");
  if (len !== size - HEADER_BYTES) return drop("bad_len");

  const hasAuth = (extra & FLAG_AUTH) !== 0;
  const authBytes = hasAuth ? AUTH_BLOCK_BYTES : 0;
  if (len < authBytes) return drop("bad_len");
  const p = HEADER_BYTES + authBytes;

  switch (op) {
    case OP.SLAVE_REPORT: {
      if (len !== authBytes + REPORT_PAYLOAD_BYTES) return drop("bad_len");
      const report = decodeReportPayload(dv, p);
      if (typeof report === "string") return drop(report);
      return { ok: true, op: OP.SLAVE_REPORT, report, auth: hasAuth ? readAuth(buf, dv) : null };
    }
    case OP.MASTER_ANN: {
      const announce = decodeAnnouncePayload(buf, dv, p, size);
      if (typeof announce === "string") return drop(announce);
      return { ok: true, op: OP.MASTER_ANN, announce, auth: hasAuth ? readAuth(buf, dv) : null };
    }
    default:
      // MASTER_SYNC and ACK carry no payload in v1.
      if (len !== authBytes) return drop("bad_len");
      return { ok: true, op: op === OP.MASTER_SYNC ? OP.MASTER_SYNC : OP.ACK, auth: hasAuth ? readAuth(buf, dv) : null };
  }
}
