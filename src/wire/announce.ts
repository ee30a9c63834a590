/**
 * MASTER_ANN payload (layout ours, pinned in docs/protocol.md):
 *
 *   off size field
 *   0   4    node_id u32            leader's raft node id
 *   4   8    term u64               ≤ Number.MAX_SAFE_INTEGER
 *   12  4    report_interval_ms u32
 *   16  4    window_base u32        first host id covered by the bitmap
 *   20  2    addr_len u16           1..255
 *   22  2    bitmap_len u16
 *   24  addr_len   leader's HTTP address "host:port", UTF-8
 *   ..  bitmap_len bit i (MSB first: byte i>>3, mask 0x80>>(i&7)) = host window_base+i active
 *   ..  0-3 zero bytes so the payload (hence len) is a multiple of 4
 */
import { assertRange, assertU32 } from "./assert.ts";
import {
  ANNOUNCE_ADDR_MAX_BYTES,
  ANNOUNCE_FIXED_BYTES,
  AUTH_BLOCK_BYTES,
  AUTH_HOST_ID_OFFSET,
  AUTH_SEQ_OFFSET,
  FLAG_AUTH,
  HEADER_BYTES,
  MAX_DATAGRAM_BYTES,
  OP,
  U32_MAX,
  type DropReason,
} from "./constants.ts";
import { writeHeader } from "./header.ts";
import { writeTag, type AuthParams } from "./auth.ts";

export interface Announce {
  nodeId: number;
  term: number;
  reportIntervalMs: number;
  /** The leader's HTTP address, "host:port" ("[v6addr]:port" for IPv6). */
  leaderAddr: string;
  /** First host id the bitmap covers. */
  windowBase: number;
  /** Active host ids inside the window; any order, duplicates harmless. Decoded: ascending. */
  activeHostIds: number[];
  /**
   * Bitmap bytes to send, so the window covers host ids
   * windowBase .. windowBase + 8*bitmapBytes - 1 (ids in the window but not
   * active are known inactive). Default when encoding: the smallest bitmap
   * that holds every active id (0 bytes when there are none).
   */
  bitmapBytes?: number;
}

/** What decodeDatagram returns for a MASTER_ANN. */
export interface DecodedAnnounce extends Announce {
  bitmapBytes: number;
  /** The raw bitmap, a view into the received datagram (copy it if you keep it). */
  bitmap: Uint8Array;
}

/**
 * Plausibility bounds; outside them a MASTER_ANN is dropped as `bad_value`
 * and encodeAnnounce throws RangeError.
 */
export const ANNOUNCE_LIMITS = {
  addrBytesMin: 1,
  addrBytesMax: ANNOUNCE_ADDR_MAX_BYTES,
  /** An agent must not be told to report faster than 10/s, or only once per hour. */
  reportIntervalMsMin: 100,
  reportIntervalMsMax: 3_600_000,
  termMax: Number.MAX_SAFE_INTEGER,
} as const;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Largest bitmap (bytes) that keeps a MASTER_ANN within MAX_DATAGRAM_BYTES,
 * for a leader address of `addrLen` UTF-8 bytes (1..255; RangeError
 * otherwise). The master pages its host-id window across announces with it:
 * each announce covers 8 * this many ids. Header, AUTH block and fixed part
 * are multiples of 4, so padding never pushes a datagram of this size over.
 */
export function maxAnnounceBitmapBytes(addrLen: number, withAuth: boolean): number {
  assertRange("addrLen", addrLen, ANNOUNCE_LIMITS.addrBytesMin, ANNOUNCE_LIMITS.addrBytesMax);
  return MAX_DATAGRAM_BYTES - HEADER_BYTES - (withAuth ? AUTH_BLOCK_BYTES : 0) - ANNOUNCE_FIXED_BYTES - addrLen;
}

/**
 * "host:port": port 1..65535 in decimal (1-5 digits), a non-empty host with
 * no space, control character (C0, DEL, C1) or BOM (U+FEFF); a host
 * containing ':' must be a bracketed IPv6 literal.
 */
export function isHostPort(s: string): boolean {
  const colon = s.lastIndexOf(":");
  const digits = s.length - colon - 1;
  if (colon <= 0 || digits < 1 || digits > 5) return false;
  let port = 0;
  for (let i = colon + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    port = port * 10 + (c - 0x30);
  }
  if (port < 1 || port > 65_535) return false;
  for (let i = 0; i < colon; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0xfeff) return false;
  }
  const inner = s.indexOf(":");
  if (inner < colon && !(s.charCodeAt(0) === 0x5b /* [ */ && s.charCodeAt(colon - 1) === 0x5d /* ] */)) return false;
  return true;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Encodes a MASTER_ANN datagram. Everything the decoder would drop as
 * `bad_value` or `bad_len` throws RangeError here instead (a bug in the
 * caller): out-of-range fields, an address that is not host:port or not
 * 1..255 bytes, an active id outside the window, or a datagram over 1024
 * bytes (page the window with maxAnnounceBitmapBytes).
 */
export function encodeAnnounce(a: Announce, auth?: AuthParams): Uint8Array {
  assertU32("nodeId", a.nodeId);
  assertRange("term", a.term, 0, ANNOUNCE_LIMITS.termMax);
  assertRange("reportIntervalMs", a.reportIntervalMs, ANNOUNCE_LIMITS.reportIntervalMsMin, ANNOUNCE_LIMITS.reportIntervalMsMax);
  assertU32("windowBase", a.windowBase);
  if (auth) {
    assertU32("hostId", auth.hostId);
    assertU32("seq", auth.seq);
  }
  const addr = utf8Encoder.encode(a.leaderAddr);
  assertRange("leaderAddr UTF-8 bytes", addr.length, ANNOUNCE_LIMITS.addrBytesMin, ANNOUNCE_LIMITS.addrBytesMax);
  if (!isHostPort(a.leaderAddr)) throw new RangeError(`wire: leaderAddr must be host:port, got ${JSON.stringify(a.leaderAddr)}`);

  let maxOffset = -1;
  for (const id of a.activeHostIds) {
    assertRange("activeHostIds[]", id, a.windowBase, U32_MAX);
    maxOffset = Math.max(maxOffset, id - a.windowBase);
  }
  const bitmapBytes = a.bitmapBytes ?? (maxOffset + 8) >> 3;
  const maxBitmap = maxAnnounceBitmapBytes(addr.length, auth !== undefined);
  assertRange("bitmapBytes", bitmapBytes, 0, maxBitmap);
  if (maxOffset >= bitmapBytes * 8) {
    throw new RangeError(`wire: active host id ${a.windowBase + maxOffset} is outside the window of ${bitmapBytes} bitmap bytes`);
  }
  if (bitmapBytes > 0 && a.windowBase + bitmapBytes * 8 - 1 > U32_MAX) {
    throw new RangeError("wire: announce window runs past host id 2^32-1");
  }

  const authBytes = auth ? AUTH_BLOCK_BYTES : 0;
  const payloadBytes = pad4(ANNOUNCE_FIXED_BYTES + addr.length + bitmapBytes);
  const buf = new Uint8Array(HEADER_BYTES + authBytes + payloadBytes); // zero-filled: padding is zero
  const dv = new DataView(buf.buffer);
  writeHeader(dv, OP.MASTER_ANN, authBytes + payloadBytes, auth ? FLAG_AUTH : 0);
  if (auth) {
    dv.setUint32(AUTH_HOST_ID_OFFSET, auth.hostId, false);
    dv.setUint32(AUTH_SEQ_OFFSET, auth.seq, false);
  }
  const p = HEADER_BYTES + authBytes;
  dv.setUint32(p, a.nodeId, false);
  dv.setUint32(p + 4, Math.floor(a.term / 2 ** 32), false);
  dv.setUint32(p + 8, a.term % 2 ** 32, false);
  dv.setUint32(p + 12, a.reportIntervalMs, false);
  dv.setUint32(p + 16, a.windowBase, false);
  dv.setUint16(p + 20, addr.length, false);
  dv.setUint16(p + 22, bitmapBytes, false);
  buf.set(addr, p + ANNOUNCE_FIXED_BYTES);
  const bm = p + ANNOUNCE_FIXED_BYTES + addr.length;
  for (const id of a.activeHostIds) {
    const i = id - a.windowBase;
    buf[bm + (i >> 3)] = (buf[bm + (i >> 3)] ?? 0) | (0x80 >> (i & 7));
  }
  if (auth) writeTag(buf, auth.key);
  return buf;
}

/**
 * Decodes the MASTER_ANN payload buf[p..end) (the caller checked the header).
 * bad_len first (the fields must exactly fill the payload with 0-3 bytes of
 * padding), then bad_value in field order: addr_len, term, interval, window,
 * address (strict UTF-8, host:port), padding bytes zero.
 */
export function decodeAnnouncePayload(buf: Uint8Array, dv: DataView, p: number, end: number): DecodedAnnounce | DropReason {
  const payloadBytes = end - p;
  if (payloadBytes < ANNOUNCE_FIXED_BYTES) return "bad_len";
  const nodeId = dv.getUint32(p, false);
  const termHi = dv.getUint32(p + 4, false);
  const termLo = dv.getUint32(p + 8, false);
  const reportIntervalMs = dv.getUint32(p + 12, false);
  const windowBase = dv.getUint32(p + 16, false);
  const addrLen = dv.getUint16(p + 20, false);
  const bitmapBytes = dv.getUint16(p + 22, false);
  const used = ANNOUNCE_FIXED_BYTES + addrLen + bitmapBytes;
  if (pad4(used) !== payloadBytes) return "bad_len";

  if (addrLen < ANNOUNCE_LIMITS.addrBytesMin || addrLen > ANNOUNCE_LIMITS.addrBytesMax) return "bad_value";
  // term ≤ 2^53-1 ⇔ high word ≤ 0x1fffff.
  if (termHi > 0x1f_ffff) return "bad_value";
  if (reportIntervalMs < ANNOUNCE_LIMITS.reportIntervalMsMin || reportIntervalMs > ANNOUNCE_LIMITS.reportIntervalMsMax) {
    return "bad_value";
  }
  if (bitmapBytes > 0 && windowBase + bitmapBytes * 8 - 1 > U32_MAX) return "bad_value";
  const a0 = p + ANNOUNCE_FIXED_BYTES;
  let leaderAddr: string;
  try {
    leaderAddr = utf8.decode(buf.subarray(a0, a0 + addrLen));
  } catch {
    return "bad_value";
  }
  if (!isHostPort(leaderAddr)) return "bad_value";
  for (let i = p + used; i < end; i++) if (buf[i] !== 0) return "bad_value";

  const b0 = a0 + addrLen;
  const bitmap = buf.subarray(b0, b0 + bitmapBytes);
  const activeHostIds: number[] = [];
  for (let byte = 0; byte < bitmapBytes; byte++) {
    const v = bitmap[byte] ?? 0;
    if (v === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if (v & (0x80 >> bit)) activeHostIds.push(windowBase + byte * 8 + bit);
    }
  }
  return {
    nodeId,
    term: termHi * 2 ** 32 + termLo,
    reportIntervalMs,
    leaderAddr,
    windowBase,
    activeHostIds,
    bitmapBytes,
    bitmap,
  };
}
