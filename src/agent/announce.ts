/**
 * What the agent makes of a datagram on its report socket (MASTER_ANN,
 * design §2). Pure: no socket, no clock.
 *
 * An announce is accepted only with an AUTH block addressed to this host
 * (`host_id` = our hostId) whose tag verifies with the current session key.
 * Without a session nothing is accepted. Unauthenticated announces are
 * accepted only in --insecure mode, where the whole cluster runs without
 * AUTH. Within a session an announce is a replay, and rejected, if its Raft
 * `term` is below the last accepted one, or its term is the same and its
 * `seq` below (an equal seq is allowed, so a master that does not count
 * announces still works). A new leader (a higher term) counts its seq from
 * the start again.
 */
import { decodeDatagram, OP, verifyTag, type DecodedAnnounce, type DropReason } from "../wire/index.ts";

/** What the agent knows of its session when judging an announce. */
export interface AnnounceSession {
  hostId: number;
  key: Uint8Array;
  /** Highest announce seq accepted in this session in `lastAnnounceTerm`, or -1. */
  lastAnnounceSeq: number;
  /** Term of the latest announce accepted in this session (0 before the first). */
  lastAnnounceTerm: number;
}

export type AnnounceRejection = DropReason | "not_announce" | "no_session" | "unauthenticated" | "wrong_host" | "replay" | "untrusted_leader";

/** Where our host id stands in an announce's window. */
export type Membership = "active" | "inactive" | "outside";

export type AnnounceVerdict =
  | { ok: true; announce: DecodedAnnounce; seq: number | null; membership: Membership }
  | { ok: false; reason: AnnounceRejection };

export function judgeAnnounce(buf: Uint8Array, session: AnnounceSession | null, insecure: boolean): AnnounceVerdict {
  const d = decodeDatagram(buf);
  if (!d.ok) return { ok: false, reason: d.reason };
  if (d.op !== OP.MASTER_ANN) return { ok: false, reason: "not_announce" };
  if (!session) return { ok: false, reason: "no_session" };
  if (d.auth === null) {
    if (!insecure) return { ok: false, reason: "unauthenticated" };
    return { ok: true, announce: d.announce, seq: null, membership: membership(d.announce, session.hostId) };
  }
  if (d.auth.hostId !== session.hostId) return { ok: false, reason: "wrong_host" };
  if (!verifyTag(buf, session.key)) return { ok: false, reason: "bad_tag" };
  const lastTerm = session.lastAnnounceTerm;
  if (d.announce.term < lastTerm || (d.announce.term === lastTerm && d.auth.seq < session.lastAnnounceSeq)) return { ok: false, reason: "replay" };
  return { ok: true, announce: d.announce, seq: d.auth.seq, membership: membership(d.announce, session.hostId) };
}

/**
 * "inactive" means the master has forgotten us: our id is inside the window
 * (windowBase ≤ hostId < windowBase + 8·bitmapBytes) and its bit is clear.
 */
export function membership(a: Pick<DecodedAnnounce, "windowBase" | "bitmap">, hostId: number): Membership {
  const i = hostId - a.windowBase;
  if (i < 0 || i >= a.bitmap.length * 8) return "outside";
  const byte = a.bitmap[i >> 3] ?? 0;
  return byte & (0x80 >> (i & 7)) ? "active" : "inactive";
}
