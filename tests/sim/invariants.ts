/**
 * Raft's safety properties (Figure 3 of the paper), checked by the
 * simulator as the run goes, over everything that ever happened (not only
 * the current state):
 *
 *   election safety     at most one leader per term, over the whole run
 *   log matching        an entry (index, term) is the same entry on every node,
 *                       after the same (index - 1, term) entry: by induction,
 *                       the same prefix. Checked on every persisted entry.
 *   leader completeness every committed entry is in the log of every leader of
 *                       a later term (checked when a leader appears, and when
 *                       an entry commits while a later leader exists)
 *   state machine       no two nodes apply different entries at one index, and
 *   safety              a node applies only what it has durably seen committed
 *
 * "Committed" is what a node has persisted as its commit index: the only
 * commit that can ever be acted upon (applied or acknowledged).
 */
import type { Entry, NodeId, Snapshot } from "../../src/raft/types.ts";

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

interface Canon {
  prevTerm: number;
  type: string;
  data: string;
  by: NodeId;
}

/** The view of one node's durable log that the checks need. */
export interface LogView {
  term(i: number): number | undefined;
  firstIndex(): number;
  lastIndex(): number;
}

export class Invariants {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly canon = new Map<string, Canon>();
  /** `decidedBy`: the commit was decided in a term <= this (the lowest term of a node seen persisting it). */
  private readonly committed = new Map<number, { term: number; type: string; data: string; decidedBy: number }>();
  private readonly applied = new Map<number, { term: number; data: string; by: NodeId }>();
  /** Leaders seen, with the term: checked again when an entry commits later. */
  private readonly leaders = new Map<NodeId, { term: number; log: LogView }>();
  elections = 0;
  highestCommitted = 0;

  /** A node is leader of `term` now. */
  leaderSeen(id: NodeId, term: number, log: LogView): void {
    const known = this.leaderOfTerm.get(term);
    if (known !== undefined && known !== id) {
      throw new InvariantViolation("election safety", `nodes ${known} and ${id} were both leader of term ${term}`);
    }
    if (known === undefined) {
      this.leaderOfTerm.set(term, id);
      this.elections++;
      // What was committed in an earlier term must be here. (We may see the leader late,
      // e.g. after it was paused: commits of later terms since then are not its business.)
      for (const [i, e] of this.committed) if (e.decidedBy < term) this.expectInLog(id, term, log, i, e.term);
    }
    this.leaders.set(id, { term, log });
  }

  leaderGone(id: NodeId): void {
    this.leaders.delete(id);
  }

  private expectInLog(id: NodeId, term: number, log: LogView, i: number, t: number): void {
    if (i < log.firstIndex() - 1) return; // under its snapshot, which covers a committed prefix
    const got = log.term(i);
    if (got !== t) {
      throw new InvariantViolation(
        "leader completeness",
        `node ${id}, leader of term ${term}, has ${got === undefined ? "no entry" : `term ${got}`} at index ${i}, where term ${t} was committed`,
      );
    }
  }

  /** Node `id` persisted `entries` (its log now holds them; `log` reads it). */
  persisted(id: NodeId, entries: readonly Entry[], log: LogView): void {
    for (const e of entries) {
      const prevTerm = log.term(e.index - 1);
      if (prevTerm === undefined) throw new InvariantViolation("log matching", `node ${id} persisted entry ${e.index} without an entry before it`);
      const key = `${e.index}:${e.term}`;
      const c = this.canon.get(key);
      if (!c) {
        this.canon.set(key, { prevTerm, type: e.type, data: e.data, by: id });
      } else if (c.prevTerm !== prevTerm || c.type !== e.type || c.data !== e.data) {
        throw new InvariantViolation(
          "log matching",
          `entry (index ${e.index}, term ${e.term}) on node ${id} follows term ${prevTerm} and holds ${JSON.stringify(e.data)}; on node ${c.by} it follows term ${c.prevTerm} and holds ${JSON.stringify(c.data)}`,
        );
      }
    }
  }

  /**
   * Node `id`, in term `nodeTerm`, persisted a commit index moving from
   * `from` to `to`; `read` gives its entries. The commit was decided in a
   * term <= nodeTerm, so leaders of later terms must have the entries.
   */
  commitPersisted(id: NodeId, nodeTerm: number, from: number, to: number, log: LogView, read: (i: number) => Entry | undefined): void {
    for (let i = Math.max(from + 1, log.firstIndex()); i <= to; i++) {
      const e = read(i);
      if (!e) throw new InvariantViolation("state machine safety", `node ${id} persisted commit ${to} but has no entry ${i}`);
      const c = this.committed.get(i);
      if (!c) {
        this.committed.set(i, { term: e.term, type: e.type, data: e.data, decidedBy: nodeTerm });
        if (i > this.highestCommitted) this.highestCommitted = i;
        for (const [lid, l] of this.leaders) if (l.term > nodeTerm) this.expectInLog(lid, l.term, l.log, i, e.term);
      } else if (c.term !== e.term || c.data !== e.data) {
        throw new InvariantViolation("state machine safety", `index ${i} committed as term ${c.term} ${JSON.stringify(c.data)} and on node ${id} as term ${e.term} ${JSON.stringify(e.data)}`);
      } else if (nodeTerm < c.decidedBy) {
        c.decidedBy = nodeTerm;
      }
    }
  }

  /** Node `id` installed a snapshot: its (index, term) must be what was committed there. */
  snapshotInstalled(id: NodeId, s: Snapshot): void {
    const c = this.committed.get(s.meta.index);
    if (c && c.term !== s.meta.term) {
      throw new InvariantViolation("state machine safety", `node ${id} installed a snapshot at index ${s.meta.index} term ${s.meta.term}; term ${c.term} was committed there`);
    }
    const a = this.applied.get(s.meta.index);
    if (a && a.term !== s.meta.term) {
      throw new InvariantViolation("state machine safety", `node ${id} installed a snapshot at index ${s.meta.index} term ${s.meta.term}; node ${a.by} applied term ${a.term} there`);
    }
  }

  /** Node `id` applied `e`. */
  appliedEntry(id: NodeId, e: Entry): void {
    const c = this.committed.get(e.index);
    if (!c || c.term !== e.term || c.data !== e.data) {
      throw new InvariantViolation("state machine safety", `node ${id} applied entry ${e.index} (term ${e.term}) that ${c ? `differs from the committed one (term ${c.term})` : "no node has durably committed"}`);
    }
    const a = this.applied.get(e.index);
    if (!a) this.applied.set(e.index, { term: e.term, data: e.data, by: id });
    else if (a.term !== e.term || a.data !== e.data) {
      throw new InvariantViolation("state machine safety", `nodes ${a.by} and ${id} applied different entries at index ${e.index} (terms ${a.term} and ${e.term})`);
    }
  }
}
