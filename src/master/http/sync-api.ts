/**
 * POST /_raft/sync (docs/protocol.md "MASTER_SYNC", docs/api.md): the
 * leader's live load for this master. Only a master of the cluster may send
 * it (the peer signature of src/master/raft/peer-auth.ts), and only the one
 * this master follows, in its current term (sink.ts checks). The body is
 * MASTER_SYNC datagrams, each preceded by its 4-byte size as on the TCP
 * report transport, at most SYNC_BODY_BYTES_MAX. Nothing is written
 * durably: the records go into the in-memory host table.
 *
 * Answers: 204 applied; 401 peer_auth; 400 bad_request (framing, a datagram
 * that is not a valid MASTER_SYNC); 409 need_full (a batch is missing: send
 * the whole table) or not_leader (this master does not follow the sender in
 * that term); 413 too_large.
 */
import { decodeDatagram, OP, splitFrames, type DecodedSync } from "../../wire/index.ts";
import type { SyncSink } from "../sync/sink.ts";
import { SYNC_PATH } from "../sync/index.ts";
import { HttpError } from "./errors.ts";
import { readBytes, type Router } from "./router.ts";

/** 64 MiB: a full table of about 450,000 hosts. */
export const SYNC_BODY_BYTES_MAX = 64 << 20;

export interface SyncRouteDeps {
  /** Why the peer header is refused before the body is read (missing, malformed, out of the time window), or null. */
  precheck(req: Request): string | null;
  /** The authenticated peer's node id (the signature covers `body`), or why it is refused. */
  verify(req: Request, path: string, body: Uint8Array): { ok: true; from: number } | { ok: false; reason: string };
  sink: SyncSink;
  /** Whom this master follows now (id 0: nobody), and the term. */
  leader(): { id: number; term: number };
  nowMs(): number;
}

export function syncRoutes(r: Router, deps: SyncRouteDeps): void {
  r.on("POST", SYNC_PATH, async (req) => {
    const pre = deps.precheck(req);
    if (pre) throw new HttpError(401, "peer_auth", pre);
    const body = await readBytes(req, SYNC_BODY_BYTES_MAX);
    const who = deps.verify(req, SYNC_PATH, body);
    if (!who.ok) throw new HttpError(401, "peer_auth", who.reason);
    const split = splitFrames(body);
    if (!split.ok || split.consumed !== body.length) throw new HttpError(400, "bad_request", "the body is not a sequence of length-framed MASTER_SYNC datagrams");
    const syncs: DecodedSync[] = [];
    for (const [i, f] of split.frames.entries()) {
      const d = decodeDatagram(f);
      if (!d.ok) throw new HttpError(400, "bad_request", `datagram ${i} is dropped as ${d.reason}`);
      if (d.op !== OP.MASTER_SYNC) throw new HttpError(400, "bad_request", `datagram ${i} is op ${d.op}, not MASTER_SYNC (12)`);
      syncs.push(d.sync);
    }
    const v = deps.sink.accept(syncs, who.from, deps.leader(), deps.nowMs());
    if (v.ok) return new Response(null, { status: 204 });
    throw new HttpError(v.error === "bad_request" ? 400 : 409, v.error, v.detail);
  });
}
