/**
 * Peer authentication between masters (design §6): every /_raft/* call that
 * changes state carries `x-lava-peer: <nodeId>.<unixSec>.<tag>` and the
 * caller's own address in `x-lava-peer-addr`, where tag is HMAC-SHA256 over
 * "<nodeId>.<unixSec>.<METHOD> <path> <addr>" with a key derived from the
 * shared cluster secret. Only masters holding the secret
 * can make one; the time bounds how long a captured header stays usable
 * (use TLS between masters on untrusted networks).
 */
import { timingSafeEqual } from "node:crypto";
import { deriveKey } from "../../auth/index.ts";

export const PEER_HEADER = "x-lava-peer";
export const PEER_ADDR_HEADER = "x-lava-peer-addr";
/** How far a peer's clock may be from ours, and how long a header stays valid. */
export const PEER_SKEW_SEC_MAX = 60;

export class PeerAuth {
  private readonly key: Uint8Array;

  constructor(secret: Uint8Array) {
    this.key = deriveKey(secret, "raft", "peer");
  }

  private tag(from: number, ts: number, method: string, path: string, addr: string): string {
    return new Bun.CryptoHasher("sha256", this.key).update(`${from}.${ts}.${method} ${path} ${addr}`).digest("hex");
  }

  /** Headers for a request from node `from`, whose own HTTP address is `addr` (signed too: a new member learns where to answer from it). */
  headers(from: number, addr: string, method: string, path: string, nowSec: number): Record<string, string> {
    const ts = Math.floor(nowSec);
    return { [PEER_HEADER]: `${from}.${ts}.${this.tag(from, ts, method, path, addr)}`, [PEER_ADDR_HEADER]: addr };
  }

  /** The calling peer's node id and address, or why the headers are refused. */
  verify(headers: Headers, method: string, path: string, nowSec: number): { ok: true; from: number; addr: string } | { ok: false; reason: string } {
    const value = headers.get(PEER_HEADER);
    const addr = headers.get(PEER_ADDR_HEADER) ?? "";
    if (!value) return { ok: false, reason: `missing ${PEER_HEADER} header: only masters of this cluster may call this` };
    const m = /^(\d{1,10})\.(\d{1,12})\.([0-9a-f]{64})$/.exec(value);
    if (!m) return { ok: false, reason: `malformed ${PEER_HEADER} header` };
    const from = Number(m[1]);
    const ts = Number(m[2]);
    if (Math.abs(nowSec - ts) > PEER_SKEW_SEC_MAX) return { ok: false, reason: `${PEER_HEADER} is more than ${PEER_SKEW_SEC_MAX} s off this master's clock; check NTP on both masters` };
    const want = Buffer.from(this.tag(from, ts, method, path, addr), "hex");
    if (!timingSafeEqual(want, Buffer.from(m[3]!, "hex"))) return { ok: false, reason: "peer signature does not match: do both masters share the same cluster secret?" };
    return { ok: true, from, addr };
  }
}
