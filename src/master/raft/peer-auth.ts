/**
 * Peer authentication between masters (design §6): every /_raft/* call
 * that changes state proves the whole request, and every answer that comes
 * back on its response proves itself and the request it answers.
 *
 *   x-lava-peer:      <nodeId>.<unixMs>.<nonce>.<tag>
 *   x-lava-peer-addr: the caller's own HTTP address
 *
 * where tag is HMAC-SHA256, with a key derived from the shared cluster
 * secret, over "lava-peer-v2", the node id, the time, the nonce, the
 * method, the path, the address and the SHA-256 of the body. A receiver
 * accepts a request only within PEER_WINDOW_MS of its own clock, and each
 * nonce once (a replay cache that covers the window, bounded in size): a
 * captured request can neither be sent again nor carry another body. An
 * answer signs "RESP" with the path and the nonce of the request it
 * answers, so it cannot be replayed as the answer to another request.
 *
 * The masters' clocks must agree within PEER_WINDOW_MS (NTP). Mutual TLS
 * (master.tls.requireClientCert) is the stronger option: it also hides
 * the traffic, and only holders of a certificate from master.tls.ca can
 * even connect (docs/security.md, "Between masters").
 */
import { timingSafeEqual } from "node:crypto";
import { deriveKey } from "../../auth/index.ts";

export const PEER_HEADER = "x-lava-peer";
export const PEER_ADDR_HEADER = "x-lava-peer-addr";
/** How far a peer's clock may be from ours, and so how long a signed request stays valid. */
export const PEER_WINDOW_MS = 10_000;
/** Nonces remembered at once; past it, requests are refused until old ones expire (a flood, or a window far too long for the rate). */
export const PEER_NONCES_MAX = 200_000;

const NONCE_RE = /^[A-Za-z0-9_-]{8,64}$/;
const HEADER_RE = /^(\d{1,10})\.(\d{1,15})\.([A-Za-z0-9_-]{8,64})\.([0-9a-f]{64})$/;

/** The SHA-256 of a body, as signed (hex). */
export function bodyHash(body: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(body).digest("hex");
}

export type PeerCheck = { ok: true; from: number; addr: string; nonce: string } | { ok: false; reason: string };

export class PeerAuth {
  private readonly key: Uint8Array;
  /** This process's nonces: a random prefix and a counter (unique is all a nonce must be). */
  private readonly prefix = Buffer.from(crypto.getRandomValues(new Uint8Array(9))).toString("base64url");
  private counter = 0;
  /** "<from>.<nonce>" → when it may be forgotten (ms, our clock), oldest first. */
  private readonly seen = new Map<string, number>();

  constructor(
    secret: Uint8Array,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.key = deriveKey(secret, "raft", "peer");
  }

  private tag(from: number, ts: number, nonce: string, method: string, path: string, addr: string, hash: string): string {
    return new Bun.CryptoHasher("sha256", this.key).update(`lava-peer-v2\n${from}\n${ts}\n${nonce}\n${method}\n${path}\n${addr}\n${hash}`).digest("hex");
  }

  /**
   * Headers for a request from node `from` (whose own HTTP address is
   * `addr`: signed too, a new member learns where to answer from it) with
   * a body whose SHA-256 is `hash`; `nonce` is what its answer will name.
   */
  sign(from: number, addr: string, method: string, path: string, hash: string): { headers: Record<string, string>; nonce: string } {
    const ts = Math.floor(this.nowMs());
    const nonce = `${this.prefix}${(this.counter++).toString(36)}`;
    return { headers: { [PEER_HEADER]: `${from}.${ts}.${nonce}.${this.tag(from, ts, nonce, method, path, addr, hash)}`, [PEER_ADDR_HEADER]: addr }, nonce };
  }

  /** Headers for the answer (a body hashing to `hash`) to the request `requestNonce` on `path`. */
  signAnswer(from: number, addr: string, path: string, requestNonce: string, hash: string): Record<string, string> {
    return this.sign(from, addr, "RESP", `${path}#${requestNonce}`, hash).headers;
  }

  /**
   * The cheap part, before the body is read: the header is there, well
   * formed and within the window. An unauthenticated caller cannot make
   * the master read a body with a header that fails this.
   */
  precheck(headers: Headers): string | null {
    const value = headers.get(PEER_HEADER);
    if (!value) return `missing ${PEER_HEADER} header: only masters of this cluster may call this`;
    const m = HEADER_RE.exec(value);
    if (!m) return `malformed ${PEER_HEADER} header (a master of another lava version? every master of a cluster must run the same version: docs/replication.md, "Upgrades")`;
    const skew = Math.abs(this.nowMs() - Number(m[2]));
    if (skew > PEER_WINDOW_MS) return `${PEER_HEADER} is ${(skew / 1000).toFixed(1)} s off this master's clock (at most ${PEER_WINDOW_MS / 1000} s): check NTP on both masters, or this is a replayed request`;
    return null;
  }

  /** A request: who sent it, once (its nonce is remembered for the window), or why it is refused. */
  verify(headers: Headers, method: string, path: string, hash: string): PeerCheck {
    const r = this.check(headers, method, path, hash);
    if (!r.ok) return r;
    const key = `${r.from}.${r.nonce}`;
    const now = this.nowMs();
    this.forget(now);
    if (this.seen.has(key)) return { ok: false, reason: `replayed request: nonce ${r.nonce} from master ${r.from} was used already` };
    if (this.seen.size >= PEER_NONCES_MAX) return { ok: false, reason: `more than ${PEER_NONCES_MAX} peer requests within ${(2 * PEER_WINDOW_MS) / 1000} s; refusing until older ones expire` };
    // A request signed at ts passes the window check until ts + window ≤ arrival + 2 × window.
    this.seen.set(key, now + 2 * PEER_WINDOW_MS);
    return r;
  }

  /** An answer to our request `requestNonce` on `path`. */
  verifyAnswer(headers: Headers, path: string, requestNonce: string, hash: string): PeerCheck {
    return this.check(headers, "RESP", `${path}#${requestNonce}`, hash);
  }

  /** Nonces remembered now (tests, metrics). */
  get remembered(): number {
    return this.seen.size;
  }

  private check(headers: Headers, method: string, path: string, hash: string): PeerCheck {
    const pre = this.precheck(headers);
    if (pre) return { ok: false, reason: pre };
    const m = HEADER_RE.exec(headers.get(PEER_HEADER)!)!;
    const addr = headers.get(PEER_ADDR_HEADER) ?? "";
    const from = Number(m[1]);
    const ts = Number(m[2]);
    const nonce = m[3]!;
    if (!NONCE_RE.test(nonce)) return { ok: false, reason: `malformed ${PEER_HEADER} nonce` };
    const want = Buffer.from(this.tag(from, ts, nonce, method, path, addr, hash), "hex");
    if (!timingSafeEqual(want, Buffer.from(m[4]!, "hex"))) return { ok: false, reason: "peer signature does not match the request (another body, path or address?), or the masters do not share the same cluster secret" };
    return { ok: true, from, addr, nonce };
  }

  private forget(now: number): void {
    // Insertion order is arrival order, and arrival times only grow (almost: a clock step back keeps a few nonces longer).
    for (const [k, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(k);
    }
  }
}
