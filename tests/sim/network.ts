/**
 * The simulated network between masters (TigerBeetle's packet simulator,
 * etcd's network tests): seeded loss, duplication, variable delay with
 * rare long spikes (which reorder), and link cuts — partitions, an
 * isolated node, one-way links. A cut link drops what is sent over it and
 * what was still in flight on it when it is cut.
 *
 * Every message is copied on the way, as a real wire would: no sender and
 * receiver ever share an object.
 */
import type { Message, NodeId } from "../../src/raft/types.ts";

export interface NetworkProfile {
  /** Chance that a message is lost. */
  loss: number;
  /** Chance that a message is delivered twice. */
  duplicate: number;
  delayMsMin: number;
  delayMsMax: number;
  /** Chance of a long delay (up to spikeMsMax), which reorders. */
  spike: number;
  spikeMsMax: number;
}

export const CALM: NetworkProfile = { loss: 0, duplicate: 0, delayMsMin: 1, delayMsMax: 3, spike: 0, spikeMsMax: 0 };

export interface NetworkStats {
  sent: number;
  lost: number;
  cut: number;
  duplicated: number;
  delivered: number;
}

/** What the network carries: anything addressed from one node to another (a Raft message, or a batch of them). */
export interface Routed {
  from: NodeId;
  to: NodeId;
}

export class SimNetwork<P extends Routed = Message> {
  profile: NetworkProfile;
  readonly stats: NetworkStats = { sent: 0, lost: 0, cut: 0, duplicated: 0, delivered: 0 };
  private readonly blocked = new Set<string>();

  /**
   * `schedule(at, deliver)` queues a delivery (the simulator's event queue);
   * `onArrive` receives what gets through; `clone` copies a payload as a
   * wire would.
   */
  constructor(
    private readonly rng: () => number,
    profile: NetworkProfile,
    private readonly schedule: (delayMs: number, deliver: () => void) => void,
    private readonly onArrive: (m: P) => void,
    private readonly clone: (p: P) => P = cloneMessage as unknown as (p: P) => P,
  ) {
    this.profile = { ...profile };
  }

  /**
   * Sends `m` (`extraDelayMs` later: a sender busy in a slow write); returns
   * the delay of its (first) delivery, or null when it is lost or the link is cut.
   */
  send(m: P, extraDelayMs = 0): number | null {
    this.stats.sent++;
    if (this.isBlocked(m.from, m.to)) {
      this.stats.cut++;
      return null;
    }
    if (this.rng() < this.profile.loss) {
      this.stats.lost++;
      return null;
    }
    const copies = this.rng() < this.profile.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    let first = Infinity;
    for (let k = 0; k < copies; k++) {
      const copy = this.clone(m);
      const d = extraDelayMs + this.delay();
      first = Math.min(first, d);
      this.schedule(d, () => this.arrive(copy));
    }
    return first;
  }

  private delay(): number {
    const p = this.profile;
    if (p.spike > 0 && this.rng() < p.spike) return p.delayMsMax + this.rng() * Math.max(0, p.spikeMsMax - p.delayMsMax);
    return p.delayMsMin + this.rng() * (p.delayMsMax - p.delayMsMin);
  }

  private arrive(m: P): void {
    if (this.isBlocked(m.from, m.to)) {
      this.stats.cut++;
      return;
    }
    this.stats.delivered++;
    this.onArrive(m);
  }

  /** The longest a message can be in flight (for quiet periods). */
  maxDelayMs(): number {
    return Math.max(this.profile.delayMsMax, this.profile.spikeMsMax);
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  cut(a: NodeId, b: NodeId): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  /** No traffic between groups (each node in one group; nodes left out keep their links). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.cutOneWay(a, b);
      }
    }
  }

  isolate(id: NodeId, all: readonly NodeId[]): void {
    for (const other of all) if (other !== id) this.cut(id, other);
  }

  heal(): void {
    this.blocked.clear();
  }

  cutLinks(): number {
    return this.blocked.size;
  }
}

/** What crosses a wire: a fresh object graph (a snapshot's opaque data is immutable and travels as is). */
export function cloneMessage(m: Message): Message {
  const c: Message = { ...m };
  if (m.entries) c.entries = m.entries.map((e) => ({ ...e }));
  if (m.snapshot) c.snapshot = { meta: { index: m.snapshot.meta.index, term: m.snapshot.meta.term, confState: { voters: [...m.snapshot.meta.confState.voters] } }, data: m.snapshot.data };
  return c;
}
