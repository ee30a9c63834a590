/**
 * LIM v1 wire constants. The byte layouts are pinned in docs/protocol.md;
 * change them only together with that page and its golden vectors.
 */

/** Datagram op codes (header field `op_code`, u32). */
export const OP = { MASTER_ANN: 10, SLAVE_REPORT: 11, MASTER_SYNC: 12, ACK: 13 } as const;
export type OpCode = (typeof OP)[keyof typeof OP];

/** op_code, len, extra: three u32. */
export const HEADER_BYTES = 12;
/** Whole datagram, header included. Larger ones are dropped as `long`. */
export const MAX_DATAGRAM_BYTES = 1024;
/** SLAVE_REPORT payload: 11 f64 + 4 u32. */
export const REPORT_PAYLOAD_BYTES = 104;
/** host_id u32, seq u32, tag. */
export const AUTH_BLOCK_BYTES = 32;
/** Truncated HMAC-SHA256. */
export const TAG_BYTES = 24;
/** `extra` bit 0: an AUTH block follows the header. */
export const FLAG_AUTH = 1;
/** MASTER_ANN fixed part, before the address and bitmap. */
export const ANNOUNCE_FIXED_BYTES = 24;
/** Leader address length bounds (UTF-8 bytes). */
export const ANNOUNCE_ADDR_MAX_BYTES = 255;

/**
 * Why a datagram was dropped. The order is stable: /metrics and
 * `lava ctl status` list counters in this order. Append only.
 *
 * The codec assigns the first eight; the master assigns the last five
 * (they need a key or session state), but all share one type so the
 * counters are typed in one place.
 */
export const DROP_REASONS = [
  "short",
  "long",
  "bad_len",
  "unknown_op",
  "bad_flags",
  "non_finite",
  "negative",
  "bad_value",
  "bad_tag",
  "replay",
  "unknown_host",
  "unauthenticated",
  "unexpected_op",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Offsets inside a datagram that carries an AUTH block. */
export const AUTH_HOST_ID_OFFSET = HEADER_BYTES; // 12
export const AUTH_SEQ_OFFSET = HEADER_BYTES + 4; // 16
export const AUTH_TAG_OFFSET = HEADER_BYTES + 8; // 20
export const AUTH_END_OFFSET = HEADER_BYTES + AUTH_BLOCK_BYTES; // 44

export const U32_MAX = 0xffff_ffff;
