/**
 * Encoder preconditions. Encoders take values from our own code, so a value
 * out of range is a programmer error: it throws a RangeError naming the
 * field instead of being clamped or wrapped (DataView.setUint32 would
 * silently reduce it mod 2^32). Decoders never throw; see decode.ts.
 */
import { U32_MAX } from "./constants.ts";

export function assertU32(field: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) {
    throw new RangeError(`wire: ${field} must be an integer in 0..${U32_MAX}, got ${v}`);
  }
}

export function assertRange(field: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`wire: ${field} must be an integer in ${min}..${max}, got ${v}`);
  }
}
