/**
 * Key derivation from the cluster secret (design §7). Every key a master
 * uses is HKDF-SHA256(secret, salt "lava/v1", info purpose ‖ NUL ‖ context),
 * so any master holding `<data-dir>/secret` recomputes the same keys and no
 * derived key is ever stored. Pure: no I/O, no clock, no randomness.
 *
 * Purposes are a closed set, and none contains NUL, so `purpose ‖ NUL ‖
 * context` is unambiguous whatever the context holds: two different
 * (purpose, context) pairs never share an info string.
 */
import { hkdfSync } from "node:crypto";

export type KeyPurpose = "jwt" | "session" | "raft" | "announce";

/** Changing the salt (a "v2") invalidates every derived key at once. */
export const KEY_SALT = "lava/v1";
/** Cluster secrets are 32 random bytes; shorter ones are refused. */
export const SECRET_BYTES_MIN = 32;
/** Default derived key size: the HMAC-SHA256 block output. */
export const KEY_BYTES = 32;
/** RFC 5869: HKDF-SHA256 output is at most 255 hash lengths. */
const HKDF_BYTES_MAX = 255 * 32;
const U32_MAX = 0xffff_ffff;

/**
 * Derives a `bytes`-long key for `purpose` (and an optional `context`, e.g.
 * a host and session) from the cluster secret. Deterministic.
 * A secret shorter than SECRET_BYTES_MIN or an out-of-range size is a
 * programmer error and throws a RangeError.
 */
export function deriveKey(
  secret: Uint8Array,
  purpose: KeyPurpose,
  context?: string,
  bytes: number = KEY_BYTES,
): Uint8Array {
  if (secret.length < SECRET_BYTES_MIN) {
    throw new RangeError(`auth: cluster secret must be at least ${SECRET_BYTES_MIN} bytes, got ${secret.length}`);
  }
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > HKDF_BYTES_MAX) {
    throw new RangeError(`auth: derived key size must be an integer in 1..${HKDF_BYTES_MAX}, got ${bytes}`);
  }
  const info = `${purpose}\0${context ?? ""}`;
  return new Uint8Array(hkdfSync("sha256", secret, KEY_SALT, info, bytes));
}

/** The HS256 signing key for every token of the cluster. */
export function jwtKey(secret: Uint8Array): Uint8Array {
  return deriveKey(secret, "jwt");
}

/**
 * The key an agent uses to tag its UDP reports (design §2) during one
 * session. Any master can recompute it from (hostId, sessionNonce), which
 * the leader records when the agent registers, so reports keep verifying
 * after a failover. A new session (new nonce) gives a new key.
 */
export function sessionKey(secret: Uint8Array, hostId: number, sessionNonce: string): Uint8Array {
  if (!Number.isInteger(hostId) || hostId < 0 || hostId > U32_MAX) {
    throw new RangeError(`auth: hostId must be an integer in 0..${U32_MAX}, got ${hostId}`);
  }
  if (sessionNonce.length === 0) throw new RangeError("auth: sessionNonce must not be empty");
  // hostId is decimal digits only, so the first "/" always ends it.
  return deriveKey(secret, "session", `${hostId}/${sessionNonce}`);
}
