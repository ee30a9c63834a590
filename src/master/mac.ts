/**
 * The master's report-tag check on its hot path. Same result as
 * wire.verifyTag, but with one keyed Bun.CryptoHasher kept per session key
 * and copied per datagram: the HMAC key schedule is paid once per session
 * instead of once per report (≈0.9 µs instead of ≈1.5 µs here).
 */
import { AUTH_END_OFFSET, AUTH_TAG_OFFSET, FLAG_AUTH, HEADER_BYTES, MAX_DATAGRAM_BYTES, TAG_BYTES } from "../wire/constants.ts";
import type { VerifyFn } from "./ingest.ts";

export function cachedVerifier(): VerifyFn {
  const keyed = new WeakMap<Uint8Array, Bun.CryptoHasher>();
  return (buf, key) => {
    if (buf.length < AUTH_END_OFFSET || buf.length > MAX_DATAGRAM_BYTES) return false;
    if (((buf[HEADER_BYTES - 1] ?? 0) & FLAG_AUTH) === 0) return false;
    let base = keyed.get(key);
    if (!base) keyed.set(key, (base = new Bun.CryptoHasher("sha256", key)));
    const h = base.copy();
    h.update(buf.subarray(0, AUTH_TAG_OFFSET));
    h.update(buf.subarray(AUTH_END_OFFSET));
    const mac = h.digest() as Uint8Array;
    // Constant time over the whole tag.
    let diff = 0;
    for (let i = 0; i < TAG_BYTES; i++) diff |= mac[i]! ^ buf[AUTH_TAG_OFFSET + i]!;
    return diff === 0;
  };
}
