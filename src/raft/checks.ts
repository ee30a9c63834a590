/**
 * Cheap checks on what comes from the network, so that the core ignores
 * a malformed message instead of throwing on it (the transport validates
 * with schema.ts too; the core does not rely on that).
 */
import type { Entry, Message, MessageType, Snapshot } from "./types.ts";
import { isNodeId } from "./confchange.ts";

/** A non-negative safe integer: an index, a term, a commit. */
export function isNat(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** Every message type, once: the core's checks, the wire schema and the tests take it from here. */
export const MESSAGE_TYPES = [
  "prevote",
  "prevote_resp",
  "vote",
  "vote_resp",
  "append",
  "append_resp",
  "heartbeat",
  "heartbeat_resp",
  "snapshot",
  "snapshot_status",
  "timeout_now",
  "read_index",
  "read_index_resp",
] as const satisfies readonly MessageType[];

const TYPES = new Set<string>(MESSAGE_TYPES);

/** The envelope every message must have. */
export function wellFormed(m: unknown, self: number): m is Message {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Partial<Message>;
  return typeof o.type === "string" && TYPES.has(o.type) && isNodeId(o.from) && o.to === self && o.from !== self && isNat(o.term);
}

/**
 * An append's entries: contiguous after `prevIndex`, terms never
 * decreasing, never past the sender's term, of a known type.
 */
export function wellFormedEntries(ents: unknown, prevIndex: number, prevTerm: number, msgTerm: number): ents is Entry[] {
  if (ents === undefined) return true;
  if (!Array.isArray(ents)) return false;
  let t = prevTerm;
  for (let k = 0; k < ents.length; k++) {
    const e = ents[k] as Partial<Entry> | null;
    if (typeof e !== "object" || e === null) return false;
    if (e.index !== prevIndex + 1 + k || !isNat(e.term) || e.term < t || e.term > msgTerm) return false;
    if ((e.type !== "normal" && e.type !== "conf") || typeof e.data !== "string") return false;
    t = e.term;
  }
  return true;
}

export function wellFormedSnapshot(s: unknown): s is Snapshot {
  if (typeof s !== "object" || s === null) return false;
  const meta = (s as Partial<Snapshot>).meta;
  if (typeof meta !== "object" || meta === null) return false;
  if (!isNat(meta.index) || !isNat(meta.term)) return false;
  const voters = meta.confState?.voters;
  return Array.isArray(voters) && voters.every(isNodeId);
}
