/**
 * The master's report-tag check and announce signing on its hot paths. Same
 * results as wire.verifyTag / wire.writeTag, with less work per datagram: a
 * Bun.CryptoHasher keyed with the session key (instead of node:crypto's
 * createHmac), the digest into a reused buffer, and, since Ingest hands in
 * the same buffer for every datagram, the views of its two signed spans
 * made once.
 *
 * No keyed hasher is kept per session. Copying a cached one saved the HMAC
 * key schedule (≈30 ns a datagram with 1,000 hosts), but cost ≈1.1 KB of
 * memory per host, and with 10,000 hosts the copies were slower than keying
 * a new hasher (≈700 against ≈490 ns per report in Ingest.handle): the
 * cached states no longer fit the CPU caches (docs/performance.md).
 */
import { AUTH_END_OFFSET, AUTH_TAG_OFFSET, FLAG_AUTH, HEADER_BYTES, MAX_DATAGRAM_BYTES, TAG_BYTES } from "../wire/constants.ts";
import type { VerifyFn } from "./ingest.ts";

export class KeyedMac {
  private readonly digest = new Uint8Array(64);
  /** The buffer whose signed spans (before and after the tag) `head` and `tail` view. */
  private spansOf: Uint8Array | null = null;
  private head: Uint8Array = this.digest;
  private tail: Uint8Array = this.digest;

  /** HMAC-SHA256 over the datagram minus its tag field, into this.digest[0..32]. */
  private mac(buf: Uint8Array, key: Uint8Array): Uint8Array {
    if (buf !== this.spansOf) {
      this.head = buf.subarray(0, AUTH_TAG_OFFSET);
      this.tail = buf.subarray(AUTH_END_OFFSET);
      this.spansOf = buf;
    }
    const h = new Bun.CryptoHasher("sha256", key);
    h.update(this.head);
    h.update(this.tail);
    h.digest(this.digest);
    return this.digest;
  }

  readonly verify: VerifyFn = (buf, key) => {
    if (buf.length < AUTH_END_OFFSET || buf.length > MAX_DATAGRAM_BYTES) return false;
    if (((buf[HEADER_BYTES - 1] ?? 0) & FLAG_AUTH) === 0) return false;
    const mac = this.mac(buf, key);
    // Constant time over the whole tag.
    let diff = 0;
    for (let i = 0; i < TAG_BYTES; i++) diff |= mac[i]! ^ buf[AUTH_TAG_OFFSET + i]!;
    return diff === 0;
  };

  /** Fills the tag of a datagram whose AUTH block and payload are written. */
  readonly sign = (buf: Uint8Array, key: Uint8Array): void => {
    buf.set(this.mac(buf, key).subarray(0, TAG_BYTES), AUTH_TAG_OFFSET);
  };
}

/** The master's verifier on its own (tests, and callers that only verify). */
export function tagVerifier(): VerifyFn {
  return new KeyedMac().verify;
}
