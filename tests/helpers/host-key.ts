/**
 * Host keys for raw test agents (docs/api.md, "Host identity"): a master
 * refuses a `register` without a key, so every raw WebSocket client that
 * registers signs its `register` the way the agent does.
 */
import { randomBytes } from "node:crypto";
import { exportHostKey, generateHostKey, hostKeyFingerprint, registerProofFields, type HostKey } from "../../src/auth/index.ts";

export async function newHostKey(): Promise<HostKey & { fingerprint: string }> {
  const pair = await generateHostKey();
  const exported = await exportHostKey(pair);
  return { privateKey: pair.privateKey, publicRaw: exported.publicRaw, fingerprint: hostKeyFingerprint(exported.publicRaw) };
}

/**
 * `register` signed with `key` for a connection that sends `token` (the
 * proof binds the token's hash): the message a real agent sends. Fields of
 * `base` (hostname, hardware, reportPort, version, …) are kept as given.
 */
export async function signedRegister<T extends { hostname: string }>(base: T, key: HostKey, token: string | null, opts: { atMs?: number; nonce?: string } = {}) {
  const proof = await registerProofFields(key, base.hostname, token, opts.atMs ?? Date.now(), opts.nonce ?? randomBytes(16).toString("base64"));
  return { type: "register" as const, ...base, ...proof };
}
