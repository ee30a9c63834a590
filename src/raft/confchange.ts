/**
 * The data of a "conf" entry: a ConfChange as JSON. Both ends of the log
 * use these two functions, so what a leader writes is what every member
 * decodes when it applies the entry.
 */
import type { ConfChange, Entry, NodeId } from "./types.ts";

/** Largest node id (ids are u32, design §2's MASTER_ANN field). */
export const MAX_NODE_ID = 0xffff_ffff;
/** A conf change's context (lava: the new member's "host:port") is short. */
export const MAX_CONF_CONTEXT_CHARS = 1024;

export function isNodeId(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= MAX_NODE_ID;
}

export function encodeConfChange(cc: ConfChange): string {
  const out: ConfChange = { type: cc.type, node: cc.node };
  if (cc.context !== undefined) out.context = cc.context;
  return JSON.stringify(out);
}

/**
 * The ConfChange in a conf entry's data, or undefined when it is not one
 * (a damaged entry). Every member decodes the same bytes the same way, so
 * applying an undecodable conf entry as a no-op keeps them in step.
 */
export function decodeConfChange(data: string): ConfChange | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  if (o.type !== "add" && o.type !== "remove") return undefined;
  if (!isNodeId(o.node)) return undefined;
  if (o.context !== undefined && (typeof o.context !== "string" || o.context.length > MAX_CONF_CONTEXT_CHARS)) return undefined;
  const cc: ConfChange = { type: o.type, node: o.node };
  if (typeof o.context === "string") cc.context = o.context;
  return cc;
}

/**
 * The founding configuration as log entries (etcd's Bootstrap): entry k
 * adds voter k at term 1, and all of them count as committed. Every
 * founding member starts with the same log, and a member added later with
 * an empty disk learns the founders by replaying it (a configuration kept
 * only outside the log could reach it through a snapshot alone).
 */
export function bootstrapEntries(voters: readonly NodeId[]): Entry[] {
  const sorted = [...new Set(voters)].sort((a, b) => a - b);
  for (const v of sorted) if (!isNodeId(v)) throw new Error(`bootstrapEntries: ${String(v)} is not a node id (a u32 other than 0)`);
  return sorted.map((node, k) => ({ index: k + 1, term: 1, type: "conf", data: encodeConfChange({ type: "add", node }) }));
}
