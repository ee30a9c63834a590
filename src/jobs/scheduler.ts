/**
 * The job scheduler (design §5): one pure round from pending jobs, hosts and
 * queues to placements, plus the reason each job left pending waits. No I/O,
 * no clock (the caller passes `nowMs`), no randomness: the same input gives
 * the same round, so a leader can run it and replicate only the outcome.
 *
 * A round, in job order (queue priority, job priority, then FIFO):
 * 1. refusals that do not depend on hosts' live state: unknown queue, a bad
 *    request, a request no registered host of the queue could ever hold;
 * 2. retry backoff, the queue's maxRunning, the round's maxPlacements;
 * 3. the least-loaded ok host of the queue's pool whose free resources fit,
 *    where load = (load1 + cpus placed on it this round) / ncpus, so one
 *    round spreads jobs instead of piling onto the idlest host;
 * 4. failing that, a backfill reservation (see `reserve`).
 *
 * Cost: each queue's ok hosts sit in a segment tree (`LoadTree`) keyed by
 * load, with the largest free cpus / memory / gpus of each subtree, so
 * finding the least-loaded host that fits walks a few branches instead of
 * sorting hosts per job. A request that failed to fit keeps failing for the
 * rest of the round (free resources only shrink and reservations only
 * grow), so later jobs with the same (queue, cpus, mem, gpus) reuse the
 * answer without looking at hosts again.
 */
import {
  covers,
  freeText,
  listText,
  neverFitsIn,
  poolHardware,
  requestText,
  hostInQueue,
  type PoolHardware,
} from "./fit.ts";
import type { Placement, QueueSpec, Resources, SchedHost, SchedJob, ScheduleResult } from "./types.ts";

/** Most placements in one round unless the caller says otherwise. */
export const MAX_PLACEMENTS_DEFAULT = 10_000;

export interface ScheduleOptions {
  /** Most placements in this round (default 10,000); the rest wait for the next round. */
  maxPlacements?: number;
}

const queuePriority = (q: QueueSpec | undefined): number => (q ? q.priority : -Infinity);

/**
 * Scheduling order: queue priority (higher first), then job priority
 * (higher first), then FIFO (lower id first). Jobs of an unknown queue sort
 * last; they cannot run anyway.
 */
export function jobOrder(a: SchedJob, b: SchedJob, queues: ReadonlyMap<string, QueueSpec>): number {
  const qa = queuePriority(queues.get(a.queue));
  const qb = queuePriority(queues.get(b.queue));
  if (qa !== qb) return qa > qb ? -1 : 1;
  if (a.priority !== b.priority) return a.priority > b.priority ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function schedule(
  pending: readonly SchedJob[],
  hosts: readonly SchedHost[],
  queues: ReadonlyMap<string, QueueSpec>,
  nowMs: number,
  opts: ScheduleOptions = {},
): ScheduleResult {
  const maxPlacements = opts.maxPlacements ?? MAX_PLACEMENTS_DEFAULT;
  if (!Number.isInteger(maxPlacements) || maxPlacements < 0) {
    throw new RangeError(`schedule: maxPlacements must be an integer ≥ 0, got ${maxPlacements}`);
  }
  const round = new Round(hosts, queues, nowMs, maxPlacements);
  const waiting = new Map<number, string>();
  for (const job of sortJobs(pending, queues)) {
    const reason = round.consider(job);
    if (reason !== null) waiting.set(job.id, reason);
  }
  return { placements: round.placements, waiting };
}

/** `pending` in jobOrder, without a Map lookup per comparison. */
function sortJobs(pending: readonly SchedJob[], queues: ReadonlyMap<string, QueueSpec>): SchedJob[] {
  const qprio = new Float64Array(pending.length);
  const idx: number[] = new Array<number>(pending.length);
  for (let i = 0; i < pending.length; i++) {
    qprio[i] = queuePriority(queues.get(pending[i]!.queue));
    idx[i] = i;
  }
  idx.sort((i, j) => {
    if (qprio[i] !== qprio[j]) return qprio[i]! > qprio[j]! ? -1 : 1;
    const a = pending[i]!;
    const b = pending[j]!;
    if (a.priority !== b.priority) return a.priority > b.priority ? -1 : 1;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return idx.map((i) => pending[i]!);
}

/** The hosts a set of patterns selects, shared by queues with the same patterns. */
interface Pool {
  /** Host indices (into the round's hosts), in hostId order, any state. */
  members: number[];
  /** The ok members, in hostId order. */
  ok: number[];
  inPool: Uint8Array;
  hw: PoolHardware;
  /** Ok members by load; null when there is none. */
  tree: LoadTree | null;
}

/** Per-(queue, request) answers that stay true for the rest of the round. */
interface ShapeMemo {
  never?: string | null;
  /**
   * Why this request fits no host now (it never will again this round:
   * free resources only shrink and reservations only grow). "held": it
   * would fit the free resources of a reserved host; that can turn into
   * "blocked" (on resources) as backfill eats the reserved host, never back.
   */
  fail?: "held" | "blocked";
  reason?: string;
  /** Index into the reserved list from which a host may still take it (those before cannot). */
  heldFrom?: number;
  /** No host is left to reserve for this request. */
  noCandidate?: boolean;
}

interface QueueCtx {
  spec: QueueSpec;
  pool: Pool;
  placed: number;
  noOkReason: string | null | undefined;
  shapes: Map<string, ShapeMemo>;
}

class Round {
  readonly placements: Placement[] = [];
  private readonly n: number;
  private readonly freeC: Float64Array;
  private readonly freeM: Float64Array;
  private readonly freeG: Float64Array;
  private readonly placedC: Float64Array;
  private readonly load1: Float64Array;
  private readonly ncpus: Float64Array;
  /** Job id holding a backfill reservation on the host; NaN = none. */
  private readonly resJob: Float64Array;
  private readonly resC: Float64Array;
  private readonly resM: Float64Array;
  private readonly resG: Float64Array;
  /** Reserved hosts, in the order their reservations were made (= job order). */
  private readonly reserved: number[] = [];
  /** For each host, the trees it is a leaf of and its position in each. */
  private readonly treesOf: LoadTree[][];
  private readonly posOf: number[][];
  private readonly byId: number[];
  private readonly pools = new Map<string, Pool>();
  private readonly queueCtx = new Map<string, QueueCtx>();

  constructor(
    private readonly hosts: readonly SchedHost[],
    private readonly queues: ReadonlyMap<string, QueueSpec>,
    private readonly nowMs: number,
    private readonly maxPlacements: number,
  ) {
    const n = (this.n = hosts.length);
    this.freeC = new Float64Array(n);
    this.freeM = new Float64Array(n);
    this.freeG = new Float64Array(n);
    this.placedC = new Float64Array(n);
    this.load1 = new Float64Array(n);
    this.ncpus = new Float64Array(n);
    this.resJob = new Float64Array(n).fill(NaN);
    this.resC = new Float64Array(n);
    this.resM = new Float64Array(n);
    this.resG = new Float64Array(n);
    this.treesOf = [];
    this.posOf = [];
    for (let i = 0; i < n; i++) {
      const h = hosts[i]!;
      this.freeC[i] = h.ncpus - h.used.cpus;
      this.freeM[i] = h.memBytes - h.used.memBytes;
      this.freeG[i] = h.gpus - h.used.gpus;
      // A missing or nonsense load reads as idle; a host without cpus divides by 1.
      this.load1[i] = h.load1 !== null && Number.isFinite(h.load1) && h.load1 > 0 ? h.load1 : 0;
      this.ncpus[i] = h.ncpus > 0 ? h.ncpus : 1;
      this.treesOf.push([]);
      this.posOf.push([]);
    }
    this.byId = Array.from({ length: n }, (_, i) => i).sort((a, b) => hosts[a]!.hostId - hosts[b]!.hostId);
  }

  /** Places `job` (returns null) or says why it waits. */
  consider(job: SchedJob): string | null {
    const q = this.queue(job.queue);
    if (!q) return `unknown queue ${job.queue}`;
    if (!validRequest(job)) {
      return `invalid request: cpus, memory and gpus must be numbers ≥ 0 (cpus ${job.cpus}, memBytes ${job.memBytes}, gpus ${job.gpus})`;
    }
    const key = `${job.cpus}/${job.memBytes}/${job.gpus}`;
    let memo = q.shapes.get(key);
    if (!memo) q.shapes.set(key, (memo = {}));
    if (memo.never === undefined) memo.never = neverFitsIn(job, q.spec.name, q.pool.hw, this.n > 0);
    if (memo.never !== null) return memo.never;
    if (this.nowMs < job.notBeforeMs) return `retry backoff until ${isoTime(job.notBeforeMs)}`;
    const max = q.spec.maxRunning;
    if (max !== undefined && q.spec.running + q.placed >= max) return `queue ${q.spec.name} at its limit of ${max} running`;
    if (this.placements.length >= this.maxPlacements) {
      return `not considered this round: the round placed its limit of ${this.maxPlacements} jobs`;
    }
    const tree = q.pool.tree;
    if (!tree) return (q.noOkReason ??= this.noOkReason(q));
    if (memo.fail === undefined) {
      const h = tree.find(job.cpus, job.memBytes, job.gpus);
      if (h >= 0) {
        this.place(job, h, q);
        return null;
      }
      memo.fail = "held";
      memo.heldFrom = 0;
    }
    if (memo.fail === "held") {
      const held = this.heldReason(job, q, memo);
      if (held !== null) return held;
      memo.fail = "blocked";
      memo.reason = this.blockedReason(job, q);
    }
    const reason = memo.reason!;
    const reserved = this.reserve(job, q, memo);
    if (reserved === null) return reason;
    memo.reason = this.blockedReason(job, q); // the next job of this shape sees the reservation
    return `${reason}; holds the backfill reservation on ${reserved}`;
  }

  private place(job: SchedJob, h: number, q: QueueCtx): void {
    this.freeC[h]! -= job.cpus;
    this.freeM[h]! -= job.memBytes;
    this.freeG[h]! -= job.gpus;
    this.placedC[h]! += job.cpus;
    this.refresh(h);
    q.placed++;
    this.placements.push({ jobId: job.id, hostId: this.hosts[h]!.hostId });
  }

  /**
   * Backfill without runtime estimates. A job blocked on resources (not on
   * backoff, a queue limit or the lack of ok hosts) reserves the host where
   * it would fit soonest: among the ok hosts of its pool whose total
   * hardware holds it, the one with the most free cpus (then most free
   * memory, then lowest hostId). From then on, in this round, other jobs see
   * on that host only what exceeds the blocked job's request, dimension by
   * dimension: max(0, free − request). So a later, smaller job still runs on
   * any other host, and on the reserved host only if what stays free after
   * it still covers the blocked job's request in every dimension where it is
   * covered now; in the dimension(s) the blocked job waits for, it may take
   * nothing. Such a job can never delay the blocked one: it takes nothing
   * the blocked job needs, whatever the running jobs' durations (which we
   * do not know). Each blocked job reserves at most one host and a host
   * holds at most one reservation, so big jobs cannot lock the whole pool
   * beyond one host each; in job order, the most important blocked jobs get
   * the best hosts. Jobs kept out only by a reservation ("held") reserve
   * nothing. Reservations live for one round: the next round, with fresh
   * loads, makes them again.
   *
   * (Read literally, "place J on the reserved host only if free − J still
   * covers B's whole request" could never admit anything: B is blocked, so
   * free < B's request in some dimension already.)
   *
   * Returns the reserved host's name, or null.
   */
  private reserve(job: SchedJob, q: QueueCtx, memo: ShapeMemo): string | null {
    if (memo.noCandidate) return null;
    let best = -1;
    for (const i of q.pool.ok) {
      if (!Number.isNaN(this.resJob[i]!) || !covers(hardware(this.hosts[i]!), job)) continue;
      if (best < 0 || this.freeC[i]! > this.freeC[best]! || (this.freeC[i] === this.freeC[best] && this.freeM[i]! > this.freeM[best]!)) {
        best = i; // `ok` is in hostId order, so ties keep the lowest id
      }
    }
    if (best < 0) {
      memo.noCandidate = true; // candidates only get fewer within a round
      return null;
    }
    this.resJob[best] = job.id;
    this.resC[best] = job.cpus;
    this.resM[best] = job.memBytes;
    this.resG[best] = job.gpus;
    this.reserved.push(best);
    this.refresh(best);
    return this.hosts[best]!.hostname;
  }

  /**
   * If only reservations keep `job` out: the first reserved host of its pool
   * whose free resources would take it. Scans on from `memo.heldFrom`: a
   * reserved host that could not take this request never can again.
   */
  private heldReason(job: SchedJob, q: QueueCtx, memo: ShapeMemo): string | null {
    for (let k = memo.heldFrom ?? 0; k < this.reserved.length; k++) {
      const h = this.reserved[k]!;
      if (q.pool.inPool[h] && this.freeC[h]! >= job.cpus && this.freeM[h]! >= job.memBytes && this.freeG[h]! >= job.gpus) {
        memo.heldFrom = k;
        return `held for job ${this.resJob[h]} (backfill reservation on ${this.hosts[h]!.hostname})`;
      }
    }
    memo.heldFrom = this.reserved.length;
    return null;
  }

  /** "needs …; best ok host X has … free", or which larger hosts are not ok. */
  private blockedReason(job: SchedJob, q: QueueCtx): string {
    const need = `needs ${requestText(job)}`;
    let best = -1;
    for (const i of q.pool.ok) {
      if (!covers(hardware(this.hosts[i]!), job)) continue;
      if (best < 0 || this.freeC[i]! > this.freeC[best]! || (this.freeC[i] === this.freeC[best] && this.freeM[i]! > this.freeM[best]!)) best = i;
    }
    if (best >= 0) {
      const free = { cpus: this.freeC[best]!, memBytes: this.freeM[best]!, gpus: this.freeG[best]! };
      const res = this.resJob[best]!;
      const note = Number.isNaN(res) ? "" : ` (reserved for job ${res})`;
      return `${need}; best ok host ${this.hosts[best]!.hostname} has ${freeText(free, job)} free${note}`;
    }
    // Some member's hardware fits (neverFits said so), but none of those is ok.
    const big = q.pool.members.filter((i) => this.hosts[i]!.state !== "ok" && covers(hardware(this.hosts[i]!), job));
    return `${need}; no ok host in queue ${q.spec.name} is large enough: ${this.statesText(big)}`;
  }

  private noOkReason(q: QueueCtx): string {
    return `no ok host in queue ${q.spec.name}: ${this.statesText(q.pool.members)}`;
  }

  /** "node-a busy, node-b drained, … and N more", by hostname. */
  private statesText(idx: readonly number[]): string {
    const hs = idx.map((i) => this.hosts[i]!).sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
    return listText(hs.map((h) => `${h.hostname} ${h.state}`));
  }

  /** Pushes host `h`'s current load and what others may take into every tree it is in. */
  private refresh(h: number): void {
    const trees = this.treesOf[h]!;
    if (trees.length === 0) return;
    const load = (this.load1[h]! + this.placedC[h]!) / this.ncpus[h]!;
    const reserved = !Number.isNaN(this.resJob[h]!);
    const c = reserved ? leftOver(this.freeC[h]!, this.resC[h]!) : this.freeC[h]!;
    const m = reserved ? leftOver(this.freeM[h]!, this.resM[h]!) : this.freeM[h]!;
    const g = reserved ? leftOver(this.freeG[h]!, this.resG[h]!) : this.freeG[h]!;
    const pos = this.posOf[h]!;
    for (let k = 0; k < trees.length; k++) trees[k]!.update(pos[k]!, load, c, m, g);
  }

  private queue(name: string): QueueCtx | undefined {
    let ctx = this.queueCtx.get(name);
    if (ctx) return ctx;
    const spec = this.queues.get(name);
    if (!spec) return undefined;
    ctx = { spec, pool: this.pool(spec), placed: 0, noOkReason: undefined, shapes: new Map() };
    this.queueCtx.set(name, ctx);
    return ctx;
  }

  private pool(spec: QueueSpec): Pool {
    const key = spec.hosts.join("\n");
    let pool = this.pools.get(key);
    if (pool) return pool;
    const members: number[] = [];
    const ok: number[] = [];
    const inPool = new Uint8Array(this.n);
    for (const i of this.byId) {
      const h = this.hosts[i]!;
      if (!hostInQueue(h.hostname, spec)) continue;
      members.push(i);
      inPool[i] = 1;
      if (h.state === "ok") ok.push(i);
    }
    const tree = ok.length > 0 ? new LoadTree(ok) : null;
    if (tree) {
      ok.forEach((h, pos) => {
        this.treesOf[h]!.push(tree);
        this.posOf[h]!.push(pos);
      });
      for (const h of ok) this.refresh(h);
    }
    pool = { members, ok, inPool, hw: poolHardware(members.map((i) => this.hosts[i]!)), tree };
    this.pools.set(key, pool);
    return pool;
  }
}

/** What others may take of `free` when `held` of it is kept for a reservation. */
function leftOver(free: number, held: number): number {
  return free > held ? free - held : Math.min(free, 0);
}

function hardware(h: SchedHost): Resources {
  return { cpus: h.ncpus, memBytes: h.memBytes, gpus: h.gpus };
}

function validRequest(r: Resources): boolean {
  return r.cpus >= 0 && r.memBytes >= 0 && r.gpus >= 0 && Number.isFinite(r.cpus + r.memBytes + r.gpus);
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms` : d.toISOString();
}

/**
 * Ok hosts of one pool in a segment tree over hostId order. Each node keeps
 * the least (load, position) below it and the largest free cpus, memory and
 * gpus below it. `find` is a best-first search: a node's (least load,
 * position) bounds every leaf under it, and a subtree whose largest free
 * value falls short in any dimension holds no fitting host, so the first
 * fitting leaf popped is the least-loaded fitting host, ties by hostId.
 * Usually that is one path down: O(log hosts).
 */
class LoadTree {
  private readonly size: number;
  private readonly hostAt: Int32Array;
  private readonly minLoad: Float64Array;
  private readonly arg: Int32Array;
  private readonly maxC: Float64Array;
  private readonly maxM: Float64Array;
  private readonly maxG: Float64Array;
  private readonly heap: Int32Array;

  constructor(hostIdx: readonly number[]) {
    let size = 1;
    while (size < hostIdx.length) size *= 2;
    this.size = size;
    this.hostAt = new Int32Array(size).fill(-1);
    hostIdx.forEach((h, pos) => (this.hostAt[pos] = h));
    this.minLoad = new Float64Array(2 * size).fill(Infinity);
    this.arg = new Int32Array(2 * size);
    for (let pos = 0; pos < size; pos++) this.arg[size + pos] = pos;
    this.maxC = new Float64Array(2 * size).fill(-Infinity);
    this.maxM = new Float64Array(2 * size).fill(-Infinity);
    this.maxG = new Float64Array(2 * size).fill(-Infinity);
    this.heap = new Int32Array(2 * size);
    for (let node = size - 1; node >= 1; node--) this.pull(node);
  }

  update(pos: number, load: number, c: number, m: number, g: number): void {
    let node = this.size + pos;
    this.minLoad[node] = load;
    this.maxC[node] = c;
    this.maxM[node] = m;
    this.maxG[node] = g;
    for (node >>= 1; node >= 1; node >>= 1) this.pull(node);
  }

  /** Index (into the round's hosts) of the least-loaded host that fits, or -1. */
  find(c: number, m: number, g: number): number {
    const { heap, size } = this;
    if (!this.fits(1, c, m, g)) return -1;
    let len = 1;
    heap[0] = 1;
    while (len > 0) {
      const node = heap[0]!;
      const last = heap[--len]!;
      if (len > 0) this.siftDown(last, len);
      if (node >= size) return this.hostAt[node - size]!;
      const l = 2 * node;
      if (this.fits(l, c, m, g)) len = this.push(l, len);
      if (this.fits(l + 1, c, m, g)) len = this.push(l + 1, len);
    }
    return -1;
  }

  private fits(node: number, c: number, m: number, g: number): boolean {
    return this.maxC[node]! >= c && this.maxM[node]! >= m && this.maxG[node]! >= g;
  }

  private pull(node: number): void {
    const l = 2 * node;
    const r = l + 1;
    const { minLoad, arg } = this;
    const from = minLoad[r]! < minLoad[l]! ? r : l; // ties: left, the lower hostId
    minLoad[node] = minLoad[from]!;
    arg[node] = arg[from]!;
    this.maxC[node] = Math.max(this.maxC[l]!, this.maxC[r]!);
    this.maxM[node] = Math.max(this.maxM[l]!, this.maxM[r]!);
    this.maxG[node] = Math.max(this.maxG[l]!, this.maxG[r]!);
  }

  private less(a: number, b: number): boolean {
    const la = this.minLoad[a]!;
    const lb = this.minLoad[b]!;
    return la < lb || (la === lb && this.arg[a]! < this.arg[b]!);
  }

  private push(node: number, len: number): number {
    const heap = this.heap;
    let i = len;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(node, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = node;
    return len + 1;
  }

  /** Puts `node` at the root of a heap of `len` and sifts it down. */
  private siftDown(node: number, len: number): void {
    const heap = this.heap;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= len) break;
      if (child + 1 < len && this.less(heap[child + 1]!, heap[child]!)) child++;
      if (!this.less(heap[child]!, node)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = node;
  }
}
