/**
 * MASTER_ANN construction (design §2): every registered agent gets, every
 * announce interval, the leader's id, term and address plus the window of
 * the active-host bitmap that holds its own id, signed with its session key.
 * Pure: the bitmap of a window is built once and shared by every host in it.
 */
import { encodeAnnounce, maxAnnounceBitmapBytes, writeTag, type Announce } from "../wire/index.ts";
import type { HostEntry } from "./hosts/table.ts";

export interface Leader {
  nodeId: number;
  term: number;
  addr: string;
  reportIntervalMs: number;
}

export interface OutgoingAnnounce {
  host: HostEntry;
  bytes: Uint8Array;
}

const DUMMY_KEY = new Uint8Array(32);

/**
 * Announces for every host with a session. `seq` is the announce round, so
 * an agent can ignore a replayed older announce.
 */
export function buildAnnounces(hosts: Iterable<HostEntry>, leader: Leader, seq: number): OutgoingAnnounce[] {
  const addrLen = new TextEncoder().encode(leader.addr).length;
  const windowBits = maxAnnounceBitmapBytes(addrLen, true) * 8;
  const byWindow = new Map<number, HostEntry[]>();
  for (const h of hosts) {
    if (!h.session) continue;
    const base = Math.floor((h.hostId - 1) / windowBits) * windowBits + 1;
    let list = byWindow.get(base);
    if (!list) byWindow.set(base, (list = []));
    list.push(h);
  }
  const out: OutgoingAnnounce[] = [];
  for (const [windowBase, members] of byWindow) {
    const a: Announce = {
      nodeId: leader.nodeId,
      term: leader.term,
      reportIntervalMs: leader.reportIntervalMs,
      leaderAddr: leader.addr,
      windowBase,
      activeHostIds: members.map((h) => h.hostId).sort((x, y) => x - y),
    };
    // Encode the window once; per host only host_id, seq and the tag differ.
    const template = encodeAnnounce(a, { hostId: 0, seq: 0, key: DUMMY_KEY });
    for (const host of members) {
      const bytes = template.slice();
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      dv.setUint32(12, host.hostId, false);
      dv.setUint32(16, seq >>> 0, false);
      writeTag(bytes, host.session!.key);
      out.push({ host, bytes });
    }
  }
  return out;
}
