/**
 * What a leader knows of each follower's log, and how fast it may send.
 *
 *   probe      next is a guess: one append at a time (until an answer or a
 *              heartbeat response), backing off with the follower's hints
 *   replicate  next is known: appends are pipelined, at most
 *              maxInflightMsgs unanswered at once
 *   snapshot   a snapshot is on its way: no appends until it is reported
 *              (heartbeats still flow)
 */
import type { NodeId, Progress as ProgressView } from "./types.ts";

/** A bounded ring of the last indexes of unanswered appends. */
export class Inflights {
  private readonly buf: number[];
  private start = 0;
  private n = 0;

  constructor(readonly size: number) {
    this.buf = new Array<number>(size).fill(0);
  }

  get count(): number {
    return this.n;
  }

  full(): boolean {
    return this.n >= this.size;
  }

  add(lastIndex: number): void {
    if (this.full()) throw new Error("Inflights.add: window is full (callers check isPaused first)");
    this.buf[(this.start + this.n) % this.size] = lastIndex;
    this.n++;
  }

  /** An answer for `index` frees every append that ended at or before it. */
  freeLE(index: number): void {
    while (this.n > 0 && this.buf[this.start]! <= index) {
      this.start = (this.start + 1) % this.size;
      this.n--;
    }
  }

  freeFirstOne(): void {
    if (this.n === 0) return;
    this.start = (this.start + 1) % this.size;
    this.n--;
  }

  reset(): void {
    this.start = 0;
    this.n = 0;
  }
}

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  match = 0;
  state: ProgressState = "probe";
  /** Index of the snapshot in flight (snapshot state), else 0. */
  pendingSnapshot = 0;
  /** Probe state: an append is out; wait for its answer or the next heartbeat response. */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  lastHeardTicks = 0;
  readonly inflights: Inflights;

  constructor(
    readonly id: NodeId,
    public next: number,
    maxInflight: number,
  ) {
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // Coming back from a snapshot: the follower has at least the snapshot (if it took it).
    const after = this.state === "snapshot" ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.resetState("probe");
    this.next = after;
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = index;
    this.next = index + 1;
  }

  /** An acknowledgement up to n. False when it tells nothing new (stale or duplicate). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of the append after `rejected`; `hint` is where the
   * follower's log may match. False when the rejection is stale.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      // Everything up to match is acknowledged: a rejection at or below it is old news.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe: only the answer to the probe we sent (after next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Book-keeping after an append carrying `count` entries ending at `lastIndex` went out. */
  sentAppend(count: number, lastIndex: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  view(): ProgressView {
    return {
      id: this.id,
      match: this.match,
      next: this.next,
      state: this.state,
      lastHeardTicks: this.lastHeardTicks,
      pendingSnapshot: this.pendingSnapshot,
    };
  }
}

/** Votes needed among `n` voters. */
export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** The highest index a quorum of `matches` has (matches of every voter). */
export function quorumIndex(matches: number[]): number {
  if (matches.length === 0) return 0;
  const sorted = [...matches].sort((a, b) => b - a);
  return sorted[quorum(sorted.length) - 1]!;
}
