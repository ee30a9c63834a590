/**
 * Who the masters are: `raftPeers` entries ("ID=HOST:PORT") plus this
 * master. The same list may be given to every master, this one included
 * (its own entry is then its address), or each may list only the others,
 * as in the seed's LITHAIR_RAFT_PEERS.
 */
import type { Members } from "../../store/index.ts";

export function parsePeer(entry: string): { id: number; addr: string } | null {
  const m = /^([1-9]\d{0,9})=([^\s=]+:\d{1,5})$/.exec(entry.trim());
  if (!m) return null;
  const id = Number(m[1]);
  return id <= 0xffff_ffff ? { id, addr: m[2]! } : null;
}

/** The founding members; throws an Error naming the bad entry. */
export function initialMembers(selfId: number, selfAddr: string, peers: readonly string[]): Members {
  const addrs: Record<string, string> = { [selfId]: selfAddr };
  const seen = new Set<number>();
  for (const entry of peers) {
    const p = parsePeer(entry);
    if (!p) throw new Error(`raftPeers: '${entry}' is not ID=HOST:PORT (e.g. 2=10.0.0.2:6880)`);
    if (seen.has(p.id)) throw new Error(`raftPeers: node id ${p.id} is listed twice`);
    seen.add(p.id);
    addrs[p.id] = p.addr;
  }
  const voters = Object.keys(addrs).map(Number).sort((a, b) => a - b);
  return { voters, addrs };
}
