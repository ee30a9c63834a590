/**
 * Host keys (trust on first use, like SSH host keys; docs/security.md):
 * each agent holds an Ed25519 key pair and proves possession when it
 * registers by signing a domain-separated text that binds the host name, a
 * time, a nonce and a hash of the bearer token of that very connection, so
 * a captured proof is good for nothing else: not another host, not another
 * token, not after the time window, not twice (the master keeps the nonces
 * of the window). Ed25519 comes from WebCrypto; no clock and no randomness
 * here (the caller passes `at` and `nonce`).
 */
import { createHash } from "node:crypto";

/** Raw Ed25519 public keys are 32 bytes; signatures 64. */
export const HOST_KEY_BYTES = 32;
export const HOST_SIG_BYTES = 64;
/** Version and purpose of the signed text: a signature made for anything else never verifies here. */
export const REGISTER_PROOF_DOMAIN = "lava-register-v1";

const ED25519 = { name: "Ed25519" } as const;

/** base64 of SHA-256 of the bearer token sent on the connection ("" when there is none, --insecure). */
export function tokenHash(token: string | null | undefined): string {
  return createHash("sha256")
    .update(token ?? "", "utf8")
    .digest("base64");
}

/**
 * The text an agent signs in `register`. Fields are joined by newlines; none
 * can contain one (a host name is [A-Za-z0-9._-], `at` is digits, nonce and
 * token hash are base64), so the text parses one way only.
 */
export function registerProofText(hostname: string, atMs: number, nonce: string, tokenHashB64: string): string {
  return `${REGISTER_PROOF_DOMAIN}\n${hostname}\n${atMs}\n${nonce}\n${tokenHashB64}`;
}

/** "SHA256:<base64 of the raw key's hash, unpadded>", as `ssh-keygen -l` prints (what is stored and shown). */
export function hostKeyFingerprint(publicKeyRaw: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(publicKeyRaw).digest("base64").replace(/=+$/, "")}`;
}

export async function importHostPublicKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== HOST_KEY_BYTES) throw new RangeError(`auth: an Ed25519 public key is ${HOST_KEY_BYTES} bytes, got ${raw.length}`);
  return crypto.subtle.importKey("raw", new Uint8Array(raw), ED25519, true, ["verify"]);
}

/** Signs the proof text with the host's private key; base64 signature. */
export async function signRegisterProof(privateKey: CryptoKey, text: string): Promise<string> {
  const sig = await crypto.subtle.sign(ED25519, privateKey, new TextEncoder().encode(text));
  return Buffer.from(sig).toString("base64");
}

/** Whether `sigB64` is a valid signature of `text` by `publicKeyRaw`. Never throws for bad input. */
export async function verifyRegisterProof(publicKeyRaw: Uint8Array, text: string, sigB64: string): Promise<boolean> {
  try {
    const sig = Buffer.from(sigB64, "base64");
    if (sig.length !== HOST_SIG_BYTES || publicKeyRaw.length !== HOST_KEY_BYTES) return false;
    const key = await importHostPublicKey(publicKeyRaw);
    return await crypto.subtle.verify(ED25519, key, sig, new TextEncoder().encode(text));
  } catch {
    return false;
  }
}

/** A new key pair (extractable, so it can be written to the state directory). */
export async function generateHostKey(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"])) as CryptoKeyPair;
}

export async function exportHostKey(pair: CryptoKeyPair): Promise<{ pkcs8: Uint8Array; publicRaw: Uint8Array }> {
  const [pkcs8, raw] = await Promise.all([crypto.subtle.exportKey("pkcs8", pair.privateKey), crypto.subtle.exportKey("raw", pair.publicKey)]);
  return { pkcs8: new Uint8Array(pkcs8), publicRaw: new Uint8Array(raw) };
}

/** The private key from its PKCS#8 bytes, and the public half (derived through JWK: WebCrypto has no direct way). */
export async function importHostKey(pkcs8: Uint8Array): Promise<{ privateKey: CryptoKey; publicRaw: Uint8Array }> {
  const privateKey = await crypto.subtle.importKey("pkcs8", new Uint8Array(pkcs8), ED25519, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  if (typeof jwk.x !== "string") throw new Error("auth: the host key has no public part");
  const publicRaw = new Uint8Array(Buffer.from(jwk.x, "base64url"));
  if (publicRaw.length !== HOST_KEY_BYTES) throw new Error("auth: the host key's public part is not 32 bytes");
  return { privateKey, publicRaw };
}

/** A host key held in memory: what an agent (or a test's raw agent) needs to build a keyed `register`. */
export interface HostKey {
  privateKey: CryptoKey;
  publicRaw: Uint8Array;
}

/**
 * The `hostKey` and `proof` fields of a `register` (docs/api.md). `nonce`
 * is 16 random bytes in base64, drawn by the caller.
 */
export async function registerProofFields(key: HostKey, hostname: string, token: string | null | undefined, atMs: number, nonce: string) {
  const sig = await signRegisterProof(key.privateKey, registerProofText(hostname, atMs, nonce, tokenHash(token)));
  return { hostKey: Buffer.from(key.publicRaw).toString("base64"), proof: { at: atMs, nonce, sig } };
}
