/**
 * Host identity at registration (docs/security.md, "Control channel: host
 * identity and sessions"): checks an agent's proof of its host key and
 * decides what the registration does to the host's binding. Pure apart
 * from WebCrypto's verify: the time comes in, the replay cache is a value.
 */
import { hostKeyFingerprint, registerProofText, verifyRegisterProof } from "../../auth/index.ts";
import type { Register } from "../../control/index.ts";

/** How far a proof's `at` may be from the master's clock (agents' clocks are NTP-synced in practice). */
export const PROOF_WINDOW_MS = 120_000;
/** Nonces remembered at most; beyond it registrations are refused until old ones age out, never forgotten early. */
export const NONCES_MAX = 200_000;

/**
 * Nonces seen within the proof window. A proof whose nonce is here is a
 * replay. Entries older than the window are dropped (their proofs fail the
 * time check anyway); the cache never drops a live entry, so when it is
 * full the answer is "busy", not a forgotten replay.
 */
export class NonceCache {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly windowMs = PROOF_WINDOW_MS,
    private readonly max = NONCES_MAX,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** Records the nonce; "replay" if it was seen in the window, "full" if the cache cannot take it. */
  add(nonce: string, nowMs: number): "ok" | "replay" | "full" {
    this.expire(nowMs);
    if (this.seen.has(nonce)) return "replay";
    if (this.seen.size >= this.max) return "full";
    this.seen.set(nonce, nowMs);
    return "ok";
  }

  /** Map order is insertion order, which is time order here: stop at the first live entry. */
  private expire(nowMs: number): void {
    for (const [nonce, at] of this.seen) {
      if (nowMs - at <= 2 * this.windowMs) break;
      this.seen.delete(nonce);
    }
  }
}

export type ProofRefusal = "bad_host_key" | "stale_proof" | "replayed_proof" | "bad_proof" | "busy";
export type ProofResult = { ok: true; fingerprint: string } | { ok: false; reason: ProofRefusal; detail: string };

/**
 * Checks `register`'s hostKey and proof against the token hash of the
 * connection it came on. The nonce is recorded only once the signature
 * verifies, so nobody can burn another agent's nonces with forgeries.
 */
export async function checkProof(msg: Register, tokenHashB64: string, nowMs: number, nonces: NonceCache, windowMs = PROOF_WINDOW_MS): Promise<ProofResult> {
  if (!msg.hostKey || !msg.proof) return { ok: false, reason: "bad_host_key", detail: "register needs both hostKey and proof" };
  const raw = new Uint8Array(Buffer.from(msg.hostKey, "base64"));
  if (raw.length !== 32) return { ok: false, reason: "bad_host_key", detail: "hostKey must be a 32-byte Ed25519 public key in base64" };
  const p = msg.proof;
  if (Math.abs(nowMs - p.at) > windowMs) {
    return { ok: false, reason: "stale_proof", detail: `proof time ${new Date(p.at).toISOString()} is more than ${windowMs / 1000} s from the master's clock; check the host's clock (NTP)` };
  }
  if (!(await verifyRegisterProof(raw, registerProofText(msg.hostname, p.at, p.nonce, tokenHashB64), p.sig))) {
    return { ok: false, reason: "bad_proof", detail: "the proof does not verify with hostKey for this host name and token" };
  }
  const added = nonces.add(p.nonce, nowMs);
  if (added === "replay") return { ok: false, reason: "replayed_proof", detail: "this proof was used before" };
  if (added === "full") return { ok: false, reason: "busy", detail: "too many registrations in the proof window; retry shortly" };
  return { ok: true, fingerprint: hostKeyFingerprint(raw) };
}

export type HostKeyPolicy = "require" | "allow-missing";

export type Binding =
  /** A new host, or a known one without a binding: the registration binds this key. */
  | { kind: "bind"; fingerprint: string }
  /** The host is bound to this very key. */
  | { kind: "match"; fingerprint: string }
  /** No key, and the policy lets that through (rolling upgrade, --insecure). */
  | { kind: "unkeyed" }
  | { kind: "refuse"; reason: "host_key_mismatch" | "host_key_required"; detail: string };

/**
 * What a registration of `hostname` with key `fingerprint` (null: none)
 * does, given the host's bound key (undefined: unknown host, null: not
 * bound). A known host bound to a key never registers without one.
 */
export function decideBinding(hostname: string, bound: string | null | undefined, fingerprint: string | null, policy: HostKeyPolicy, insecure: boolean): Binding {
  if (fingerprint === null) {
    if (bound) return { kind: "refuse", reason: "host_key_mismatch", detail: `host '${hostname}' is bound to host key ${bound} and this registration has none; if the host was reinstalled, run 'lava ctl host reset-key ${hostname}'` };
    if (policy === "allow-missing" || insecure) return { kind: "unkeyed" };
    return { kind: "refuse", reason: "host_key_required", detail: "this master requires a host key in register (agents from this release send one); to admit older agents during a rolling upgrade set master.hostKeys: allow-missing" };
  }
  if (!bound) return { kind: "bind", fingerprint };
  if (bound === fingerprint) return { kind: "match", fingerprint };
  return {
    kind: "refuse",
    reason: "host_key_mismatch",
    detail: `host '${hostname}' is bound to host key ${bound}, not ${fingerprint}; if the host was reinstalled, an admin runs 'lava ctl host reset-key ${hostname}'`,
  };
}
