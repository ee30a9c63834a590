/**
 * AUTH block: host_id u32 · seq u32 · tag[24], directly after the header.
 * tag = HMAC-SHA256(key, header(12, as sent) ‖ host_id ‖ seq ‖ payload)[0..24],
 * i.e. the HMAC covers every byte of the datagram except the tag itself.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import {
  AUTH_END_OFFSET,
  AUTH_TAG_OFFSET,
  FLAG_AUTH,
  HEADER_BYTES,
  MAX_DATAGRAM_BYTES,
  TAG_BYTES,
} from "./constants.ts";

export interface AuthBlock {
  hostId: number;
  seq: number;
  /** 24 bytes, a view into the received datagram (copy it if you keep it). */
  tag: Uint8Array;
}

/** What an encoder needs to add an AUTH block. */
export interface AuthParams {
  hostId: number;
  seq: number;
  key: Uint8Array;
}

/** Full 32-byte HMAC over the datagram with the tag bytes left out. */
function mac(buf: Uint8Array, key: Uint8Array): Uint8Array {
  return createHmac("sha256", key)
    .update(buf.subarray(0, AUTH_TAG_OFFSET))
    .update(buf.subarray(AUTH_END_OFFSET))
    .digest();
}

/**
 * Fills the tag of a datagram whose header (AUTH flag set), host_id, seq and
 * payload are already written. The encoders use it; so can a sender that
 * encodes once and re-signs a copy per recipient (set host_id and seq at
 * offsets 12 and 16, then writeTag). RangeError if `buf` cannot hold an
 * AUTH block (a caller bug).
 */
export function writeTag(buf: Uint8Array, key: Uint8Array): void {
  if (buf.length < AUTH_END_OFFSET || buf.length > MAX_DATAGRAM_BYTES || ((buf[HEADER_BYTES - 1] ?? 0) & FLAG_AUTH) === 0) {
    throw new RangeError("wire: writeTag needs a 44..1024-byte datagram with the AUTH flag set");
  }
  buf.set(mac(buf, key).subarray(0, TAG_BYTES), AUTH_TAG_OFFSET);
}

/**
 * Recomputes the tag over the datagram as received and compares it in
 * constant time. Meant for datagrams that decodeDatagram accepted with an
 * AUTH block; for anything else (too short or long, AUTH flag clear) it
 * returns false rather than throwing.
 */
export function verifyTag(buf: Uint8Array, key: Uint8Array): boolean {
  if (buf.length < AUTH_END_OFFSET || buf.length > MAX_DATAGRAM_BYTES) return false;
  // extra is bytes 8..11 big-endian; bit 0 is the last byte's low bit.
  if (((buf[HEADER_BYTES - 1] ?? 0) & FLAG_AUTH) === 0) return false;
  const expected = mac(buf, key).subarray(0, TAG_BYTES);
  return timingSafeEqual(expected, buf.subarray(AUTH_TAG_OFFSET, AUTH_END_OFFSET));
}
