/**
 * Seeded clients (Jepsen style): each has one operation outstanding at a
 * time, a write of a unique value or a read of one key, sent to the node
 * it believes leads. A not_leader answer redirects it (to the hinted
 * leader, else a random node). In the core-level simulation an accepted
 * write is never re-proposed (that could apply it twice): it waits for the
 * outcome until its deadline and then stays open in the history. In the
 * driver-level one a write carries a request id and is retried with it
 * (the state machine applies an id once), like `lava ctl`. The history
 * (call and return stamps in real-time order) goes to the linearizability
 * checker.
 */
import type { NodeId, ProposeError } from "../../src/raft/types.ts";
import type { KvOperation } from "./linearizability.ts";

export interface ClientOp {
  id: number;
  client: number;
  kind: "write" | "read";
  key: string;
  value: string;
  record: KvOperation;
  status: "pending" | "ok" | "failed" | "unknown";
  deadline: number;
  attempts: number;
  /** A write: where its accepted proposal went. */
  index?: number;
  /** A write: some attempt may have entered a log (so it may be applied even if no answer says so). */
  proposed: boolean;
  /** Attempts sent and not answered yet (the driver-level simulation counts them: each may still enter a log). */
  inFlight: number;
  /** For the liveness probe: told when the operation ends. */
  onEnd?: (op: ClientOp) => void;
}

/** What the workload needs of the simulator. */
export interface ClientHost {
  now(): number;
  /** A fresh stamp in the run's total order of events. */
  stamp(): number;
  after(ms: number, fn: () => void): void;
  at(t: number, fn: () => void): void;
  /** Nodes a client may try (the cluster's current members). */
  members(): NodeId[];
  /** Would `id` take a connection now? */
  reachable(id: NodeId): boolean;
  /** Sends an attempt of `op` to `c.target`; the host reports how it went through the workload's methods. */
  submit(op: ClientOp, c: { target: NodeId }): void;
  trace(line: string): void;
}

interface Client {
  id: number;
  target: NodeId;
  n: number;
}

export interface WorkloadStats {
  writesOk: number;
  writesFailed: number;
  writesUnknown: number;
  readsOk: number;
  readsFailed: number;
}

export class Workload {
  private readonly clients: Client[] = [];
  readonly ops: ClientOp[] = [];
  private nextOp = 1;
  private running = true;
  readonly stats: WorkloadStats = { writesOk: 0, writesFailed: 0, writesUnknown: 0, readsOk: 0, readsFailed: 0 };

  constructor(
    private readonly host: ClientHost,
    private readonly rng: () => number,
    nClients: number,
    private readonly keys: number,
    private readonly opTimeoutMs: number,
    /** Writes that certainly never entered a log end "failed" at their deadline, not "unknown" (the driver-level simulation knows). */
    private readonly definiteFailures = false,
  ) {
    const members = host.members();
    for (let c = 1; c <= nClients; c++) this.clients.push({ id: c, target: members[Math.floor(rng() * members.length)]!, n: 0 });
  }

  start(): void {
    for (const c of this.clients) this.host.after(this.rng() * 20, () => this.next(c));
  }

  /** No new operations (those outstanding run to their end). */
  stop(): void {
    this.running = false;
  }

  private next(c: Client): void {
    if (!this.running) return;
    const kind = this.rng() < 0.5 ? "write" : "read";
    const key = `k${Math.floor(this.rng() * this.keys)}`;
    const value = `c${c.id}.${++c.n}`;
    const op = this.begin(c.id, kind, key, value, this.opTimeoutMs);
    op.onEnd = () => this.host.after(1 + this.rng() * 15, () => this.next(c));
    this.attempt(op, c);
  }

  /** Starts an operation (recorded in the history at once). */
  begin(client: number, kind: "write" | "read", key: string, value: string, timeoutMs: number): ClientOp {
    const now = this.host.now();
    const record: KvOperation = {
      key,
      input: kind === "write" ? { kind: "write", value } : { kind: "read" },
      output: null,
      call: this.host.stamp(),
      ret: Infinity,
      label: `c${client}@${now.toFixed(1)}`,
    };
    const op: ClientOp = { id: this.nextOp++, client, kind, key, value, record, status: "pending", deadline: now + timeoutMs, attempts: 0, proposed: false, inFlight: 0 };
    this.ops.push(op);
    this.host.at(op.deadline, () => {
      if (op.status === "pending") this.end(op, op.kind === "write" && (op.proposed || op.inFlight > 0 || !this.definiteFailures) ? "unknown" : "failed");
    });
    return op;
  }

  /** Sends `op` to the client's target after a request's latency. */
  attempt(op: ClientOp, c: { target: NodeId }, delayMs = 0.5 + this.rng() * 1.5): void {
    this.host.after(delayMs, () => this.submit(op, c));
  }

  private submit(op: ClientOp, c: { target: NodeId }): void {
    if (op.status !== "pending") return;
    if (!this.host.reachable(c.target)) {
      // Connection refused: try another member a little later.
      c.target = this.otherMember(c.target);
      this.attempt(op, c, 5 + this.rng() * 10);
      return;
    }
    op.attempts++;
    this.host.submit(op, c);
  }

  /** The node refused the attempt: try where it says the leader is, or elsewhere. */
  refused(op: ClientOp, c: { target: NodeId }, r: ProposeError): void {
    switch (r.error) {
      case "not_leader":
        this.redirect(op, c, r.leader);
        return;
      case "transfer_in_progress":
      case "no_quorum_yet":
      case "conf_change_pending":
        this.attempt(op, c, 10 + this.rng() * 20);
        return;
      case "invalid_request":
        throw new Error(`the simulator's client sent an invalid request: ${r.detail}`);
    }
  }

  /** Try again at `leader` (0: unknown), or at another member after a pause. */
  redirect(op: ClientOp, c: { target: NodeId }, leader: NodeId): void {
    if (leader !== 0 && leader !== c.target) {
      c.target = leader;
      this.attempt(op, c);
    } else {
      c.target = this.otherMember(c.target);
      this.attempt(op, c, 10 + this.rng() * 20);
    }
  }

  otherMember(not: NodeId): NodeId {
    const ms = this.host.members().filter((m) => m !== not);
    return ms.length > 0 ? ms[Math.floor(this.rng() * ms.length)]! : not;
  }

  // ---- outcomes, reported by the simulator

  writeApplied(op: ClientOp): void {
    if (op.status === "pending") this.end(op, "ok");
  }

  /** Another entry was committed at the write's index: it can never be applied. */
  writeLost(op: ClientOp): void {
    if (op.status === "pending") this.end(op, "failed");
  }

  readServed(op: ClientOp, value: string | null): void {
    if (op.status !== "pending") return;
    op.record.output = value;
    this.end(op, "ok");
  }

  private end(op: ClientOp, status: ClientOp["status"]): void {
    op.status = status;
    if (status === "ok") op.record.ret = this.host.stamp();
    const s = this.stats;
    if (op.kind === "write") {
      if (status === "ok") s.writesOk++;
      else if (status === "failed") s.writesFailed++;
      else s.writesUnknown++;
    } else if (status === "ok") s.readsOk++;
    else s.readsFailed++;
    this.host.trace(`client ${op.client} ${op.kind} ${op.key}${op.kind === "write" ? `=${op.value}` : ""} → ${status}${op.kind === "read" && status === "ok" ? ` ${String(op.record.output)}` : ""}`);
    op.onEnd?.(op);
  }

  /**
   * The history to check: completed operations, writes of unknown outcome
   * (open), and not the failed ones (a failed read tells nothing; a failed
   * write certainly did not happen).
   */
  history(): KvOperation[] {
    return this.ops.filter((op) => op.status === "ok" || (op.kind === "write" && (op.status === "unknown" || op.status === "pending"))).map((op) => op.record);
  }
}
