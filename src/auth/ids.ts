/**
 * Random ids for tokens. The one random source of auth besides the secret
 * itself; pure code (jwt.ts) takes ids as arguments.
 */
import { Buffer } from "node:buffer";

const TOKEN_ID_BYTES = 16;

/** A fresh token id (`jti`): 16 random bytes as 32 lowercase hex characters. */
export function newTokenId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(TOKEN_ID_BYTES))).toString("hex");
}
