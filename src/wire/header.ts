/** The 12-byte header: op_code u32 · len u32 · extra u32, big-endian. */
import { assertU32 } from "./assert.ts";
import { HEADER_BYTES } from "./constants.ts";

/**
 * Writes a header at offset 0. `len` is the byte count after the header
 * (AUTH block included). Any u32 is accepted, so tests and fuzzers can build
 * bad headers; a non-u32 argument throws RangeError.
 */
export function encodeHeader(op: number, len: number, extra: number): Uint8Array {
  assertU32("op", op);
  assertU32("len", len);
  assertU32("extra", extra);
  const buf = new Uint8Array(HEADER_BYTES);
  writeHeader(new DataView(buf.buffer), op, len, extra);
  return buf;
}

/** Internal: header into an existing view at its offset 0 (values already checked). */
export function writeHeader(dv: DataView, op: number, len: number, extra: number): void {
  dv.setUint32(0, op, false);
  dv.setUint32(4, len, false);
  dv.setUint32(8, extra, false);
}
