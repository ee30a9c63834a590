/**
 * MASTER_ANN (design §2): every registered agent gets, once per announce
 * interval, the leader's id, term and address plus the window of the
 * active-host bitmap that holds its own id, signed with its session key.
 *
 * A round is not sent in one burst: at 10,000 hosts building and signing
 * every announce in one event-loop turn stalled ingest long enough for the
 * kernel to drop reports. The window templates are built once per round
 * (one encode per window, the bitmap shared by every host in it); the
 * per-host copies are signed and sent in slices spread over the interval.
 * Pure: sending is the caller's.
 */
import { encodeAnnounce, maxAnnounceBitmapBytes, type Announce } from "../wire/index.ts";
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

export type SignFn = (buf: Uint8Array, key: Uint8Array) => void;

const DUMMY_KEY = new Uint8Array(32);

/** One round's unsigned window templates, keyed by window base, and the hosts to announce to. */
export interface AnnounceRound {
  seq: number;
  templates: Map<number, Uint8Array>;
  windowBits: number;
  hosts: HostEntry[];
}

export function planRound(hosts: Iterable<HostEntry>, leader: Leader, seq: number): AnnounceRound {
  const addrLen = new TextEncoder().encode(leader.addr).length;
  const windowBits = maxAnnounceBitmapBytes(addrLen, true) * 8;
  const byWindow = new Map<number, number[]>();
  const targets: HostEntry[] = [];
  for (const h of hosts) {
    if (!h.session) continue;
    targets.push(h);
    const base = windowBase(h.hostId, windowBits);
    let ids = byWindow.get(base);
    if (!ids) byWindow.set(base, (ids = []));
    ids.push(h.hostId);
  }
  const templates = new Map<number, Uint8Array>();
  for (const [base, ids] of byWindow) {
    const a: Announce = {
      nodeId: leader.nodeId,
      term: leader.term,
      reportIntervalMs: leader.reportIntervalMs,
      leaderAddr: leader.addr,
      windowBase: base,
      activeHostIds: ids.sort((x, y) => x - y),
    };
    templates.set(base, encodeAnnounce(a, { hostId: 0, seq: 0, key: DUMMY_KEY }));
  }
  return { seq, templates, windowBits, hosts: targets };
}

const windowBase = (hostId: number, bits: number) => Math.floor((hostId - 1) / bits) * bits + 1;

/** The signed announce for one host of a planned round (null if its session ended meanwhile). */
export function announceFor(round: AnnounceRound, host: HostEntry, sign: SignFn): Uint8Array | null {
  if (!host.session) return null;
  const template = round.templates.get(windowBase(host.hostId, round.windowBits));
  if (!template) return null;
  const bytes = template.slice();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  dv.setUint32(12, host.hostId, false);
  dv.setUint32(16, round.seq >>> 0, false);
  sign(bytes, host.session.key);
  return bytes;
}

/** Every announce of a round at once (tests, small clusters). */
export function buildAnnounces(hosts: Iterable<HostEntry>, leader: Leader, seq: number, sign: SignFn): OutgoingAnnounce[] {
  const round = planRound(hosts, leader, seq);
  const out: OutgoingAnnounce[] = [];
  for (const host of round.hosts) {
    const bytes = announceFor(round, host, sign);
    if (bytes) out.push({ host, bytes });
  }
  return out;
}
