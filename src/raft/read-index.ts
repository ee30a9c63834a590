/**
 * A leader's read-index requests (Raft dissertation §6.4) waiting for a
 * heartbeat round to confirm that it still leads. Each request records
 * the commit index when it arrived; the heartbeats sent for it carry a
 * context of our own (never the application's: two callers may pick the
 * same string), and once a quorum answered that context, it and every
 * older request are released.
 */
import type { NodeId } from "./types.ts";

export interface ReadRequest {
  /** Whose read: this node (a ReadState) or a follower (a read_index_resp). */
  from: NodeId;
  context: string;
  index: number;
  /** The heartbeat context of this request's confirmation round. */
  round: string;
  acks: Set<NodeId>;
}

export class ReadIndexQueue {
  private reqs: ReadRequest[] = [];
  private byRound = new Map<string, ReadRequest>();
  /** Monotonic over the node's life, so a late ack from an old round matches nothing. */
  private nextRound = 1;

  get size(): number {
    return this.reqs.length;
  }

  /** Queues a read at `index`, acknowledged by `self` already; returns the heartbeat context to send. */
  add(from: NodeId, context: string, index: number, self: NodeId): string {
    const round = `read:${this.nextRound++}`;
    const req: ReadRequest = { from, context, index, round, acks: new Set([self]) };
    this.reqs.push(req);
    this.byRound.set(round, req);
    return round;
  }

  /**
   * `from` answered the heartbeat of `round`. When `confirmed(acks)` says a
   * quorum has, returns that request and every older one (the round
   * confirms leadership at a time after they arrived); else [].
   */
  ack(from: NodeId, round: string, confirmed: (acks: ReadonlySet<NodeId>) => boolean): ReadRequest[] {
    const req = this.byRound.get(round);
    if (!req) return [];
    req.acks.add(from);
    if (!confirmed(req.acks)) return [];
    const k = this.reqs.indexOf(req);
    const done = this.reqs.splice(0, k + 1);
    for (const r of done) this.byRound.delete(r.round);
    return done;
  }

  /** The newest round still waiting: every heartbeat carries it, so a lost round is retried. */
  lastRound(): string | undefined {
    return this.reqs[this.reqs.length - 1]?.round;
  }

  clear(): void {
    this.reqs = [];
    this.byRound.clear();
  }
}
