/**
 * What the core-level and the driver-level simulations share: running the
 * event queue to the end of a run, the verdict on the clients' history,
 * the network faults they draw, and picking one of weighted actions.
 * Every function draws from the rng it is given in a fixed order, so a
 * seed replays the same run.
 */
import type { NodeId } from "../../src/raft/types.ts";
import { EventQueue } from "./events.ts";
import { InvariantViolation, Invariants } from "./invariants.ts";
import { checkKvHistory, describeOps, type KvOperation } from "./linearizability.ts";
import type { Routed, SimNetwork } from "./network.ts";
import type { SimResult } from "./simulation.ts";
import type { ClientHost, ClientOp, Workload } from "./workload.ts";

/**
 * Runs events until `stop()` (asked before each one) or `hardStop`; an
 * exception ends the run, as its failure. Returns how many events ran.
 */
/** The `--break` part of a replay line: the knobs that are on, comma-separated (scripts/sim reads them back). */
export function breakFlag(knobs: object | undefined): string {
  const on = Object.entries(knobs ?? {})
    .filter(([, v]) => v === true)
    .map(([k]) => k);
  return on.length > 0 ? ` --break ${on.join(",")}` : "";
}

export function runEvents(q: EventQueue, hardStop: number, stop: () => boolean): { events: number; failure?: string } {
  let events = 0;
  for (;;) {
    if (stop()) return { events };
    let more: boolean;
    try {
      more = q.runNext(hardStop);
    } catch (e) {
      return { events, failure: e instanceof InvariantViolation ? `invariant violated: ${e.message}` : `the run threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
    }
    if (!more) return { events };
    events++;
  }
}

/** Why the clients' history is not linearizable, or undefined when it is. */
export function historyFailure(history: KvOperation[]): string | undefined {
  const lin = checkKvHistory(history);
  if (lin.ok) return undefined;
  return lin.reason === "budget_exceeded" ? `linearizability check of key ${lin.key} gave up after ${lin.steps} steps (history too concurrent)` : `history not linearizable on key ${lin.key}:\n${describeOps(lin.ops)}`;
}

export function shuffle<T>(xs: readonly T[], rng: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Cuts the nodes into two random groups (after healing what was cut); returns the trace line. */
export function randomPartition<P extends Routed>(net: SimNetwork<P>, ids: readonly NodeId[], rng: () => number): string {
  const shuffled = shuffle(ids, rng);
  const k = 1 + Math.floor(rng() * (shuffled.length - 1));
  const groups = [shuffled.slice(0, k), shuffled.slice(k)];
  net.heal();
  net.partition(groups);
  return `fault: partition ${groups.map((g) => g.join(",")).join(" | ")}`;
}

/** Cuts one random link one way; returns the trace line. */
export function randomOneWayCut<P extends Routed>(net: SimNetwork<P>, ids: readonly NodeId[], rng: () => number): string {
  const [a, b] = shuffle(ids, rng);
  net.cutOneWay(a!, b!);
  return `fault: cut ${a}→${b}`;
}

/** Runs one of `actions`, chosen with probability proportional to its weight. */
export function pickWeighted(actions: readonly [number, () => void][], rng: () => number): void {
  const total = actions.reduce((s, [w]) => s + w, 0);
  let x = rng() * total;
  for (const [w, act] of actions) {
    x -= w;
    if (x < 0) {
      act();
      return;
    }
  }
}

/**
 * The part of a simulation run that does not depend on what is simulated:
 * the event queue and the clients' view of it, the invariants, coverage
 * counters, how a run ends and what its result says.
 */
export abstract class SimRun implements ClientHost {
  protected readonly q = new EventQueue();
  protected readonly inv = new Invariants();
  protected readonly coverage: Record<string, number> = {};
  protected work!: Workload;
  protected stampN = 0;
  protected events = 0;
  protected failure: string | undefined;
  protected phase: "faults" | "healing" | "done" = "faults";
  protected healedAt = 0;

  constructor(private readonly traceTo: ((line: string) => void) | undefined) {}

  abstract members(): NodeId[];
  abstract reachable(id: NodeId): boolean;
  abstract submit(op: ClientOp, c: { target: NodeId }): void;
  /** Why the cluster did not recover after the faults healed. */
  protected abstract livenessFailure(): string;

  now(): number {
    return this.q.now;
  }
  stamp(): number {
    return ++this.stampN;
  }
  after(ms: number, fn: () => void): void {
    this.q.after(ms, fn);
  }
  at(t: number, fn: () => void): void {
    this.q.at(t, fn);
  }
  trace(line: string): void {
    this.traceTo?.(`${this.q.now.toFixed(2).padStart(9)} ${line}`);
  }

  protected count(what: string): void {
    this.coverage[what] = (this.coverage[what] ?? 0) + 1;
  }

  /** Cuts the leader (if any) off from every other node. */
  protected isolate<P extends Routed>(net: SimNetwork<P>, ids: readonly NodeId[], leader: NodeId | undefined): void {
    if (leader === undefined) return;
    net.isolate(leader, ids);
    this.count("leader isolated");
    this.trace(`fault: isolate leader ${leader}`);
  }

  /** The network faults a run draws from when its seed has partitions, with their weights. */
  protected networkFaults<P extends Routed>(net: SimNetwork<P>, ids: readonly NodeId[], rng: () => number, leader: () => NodeId | undefined): [number, () => void][] {
    return [
      [3, () => this.trace(randomPartition(net, ids, rng))],
      [2, () => this.isolate(net, ids, leader())],
      [1, () => this.trace(randomOneWayCut(net, ids, rng))],
      [
        5,
        () => {
          net.heal();
          this.trace("fault: network healed");
        },
      ],
    ];
  }

  /** Runs the queue until the run is done, failed, or reaches `hardStop`; then liveness and linearizability. */
  protected runToEnd(hardStop: number): void {
    const r = runEvents(this.q, hardStop, () => this.failure !== undefined || this.phase === "done");
    this.events = r.events;
    if (r.failure) this.failure ??= r.failure;
    if (!this.failure && this.phase !== "done") this.failure = this.livenessFailure();
    this.failure ??= historyFailure(this.work.history());
  }

  /** The run's result; `nodeDigests` is each node's final state, for the digest two runs of one seed must share. */
  protected resultOf(seed: number, nodes: number, replay: string, crashes: number, nodeDigests: string[]): SimResult {
    const digestParts: (string | number)[] = [this.events, this.stampN, this.inv.highestCommitted, this.q.now.toFixed(3), ...nodeDigests];
    for (const op of this.work.ops) digestParts.push(`${op.id}${op.status[0]}${op.record.output ?? ""}`);
    const r: SimResult = {
      seed,
      nodes,
      ok: this.failure === undefined,
      replay,
      simMs: Math.round(this.q.now),
      events: this.events,
      elections: this.inv.elections,
      committed: this.inv.highestCommitted,
      crashes,
      workload: { ...this.work.stats },
      coverage: { ...this.coverage },
      digest: digestParts.join(" "),
    };
    if (this.failure) r.failure = this.failure;
    return r;
  }
}
