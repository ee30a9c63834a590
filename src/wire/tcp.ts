/**
 * TCP transport framing: each datagram, byte for byte as over UDP, preceded
 * by its size (12 + header len) as a u32 big-endian. A size outside
 * 12..1024 means the stream can no longer be trusted: the receiver counts
 * `short` / `long` and closes the connection.
 */
import { HEADER_BYTES, MAX_DATAGRAM_BYTES } from "./constants.ts";

export const TCP_LENGTH_PREFIX_BYTES = 4;

/** Prefixes a datagram with its 4-byte big-endian size. */
export function encodeFrame(datagram: Uint8Array): Uint8Array {
  if (datagram.length > MAX_DATAGRAM_BYTES) {
    throw new RangeError(`wire: datagram of ${datagram.length} bytes exceeds ${MAX_DATAGRAM_BYTES}`);
  }
  const out = new Uint8Array(TCP_LENGTH_PREFIX_BYTES + datagram.length);
  new DataView(out.buffer).setUint32(0, datagram.length, false);
  out.set(datagram, TCP_LENGTH_PREFIX_BYTES);
  return out;
}

export type FrameSplit =
  | { ok: true; frames: Uint8Array[]; consumed: number }
  | { ok: false; reason: "short" | "long" };

/**
 * Splits the complete frames at the start of `buf` (bytes received so far).
 * `frames` are views into `buf`; the caller keeps buf[consumed..] (always
 * fewer than 4 + 1024 bytes) and prepends it to the next chunk. Each frame
 * still goes through decodeDatagram. Never throws.
 */
export function splitFrames(buf: Uint8Array): FrameSplit {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const frames: Uint8Array[] = [];
  let p = 0;
  while (buf.length - p >= TCP_LENGTH_PREFIX_BYTES) {
    const size = dv.getUint32(p, false);
    if (size < HEADER_BYTES) return { ok: false, reason: "short" };
    if (size > MAX_DATAGRAM_BYTES) return { ok: false, reason: "long" };
    if (buf.length - p - TCP_LENGTH_PREFIX_BYTES < size) break;
    frames.push(buf.subarray(p + TCP_LENGTH_PREFIX_BYTES, p + TCP_LENGTH_PREFIX_BYTES + size));
    p += TCP_LENGTH_PREFIX_BYTES + size;
  }
  return { ok: true, frames, consumed: p };
}
