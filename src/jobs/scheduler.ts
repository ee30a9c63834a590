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
 * Cost: the ok hosts of each queue's pool sit in a segment tree
 * (`PoolTree`) that keeps, per subtree, the least-loaded host and the
 * largest free cpus / memory / gpus, so finding the least-loaded host that
 * fits walks a few branches instead of sorting hosts per job. A request
 * that failed to fit keeps failing for the rest of the round (free
 * resources only shrink and reservations only grow), so later jobs with the
 * same (queue, cpus, mem, gpus) reuse the answer without looking at hosts
 * again. 10,000 jobs × 1,000 hosts take some 10–30 ms (bench/scheduler.ts).
 */
import {
  covers,
  freeText,
  listText,
  neverFitsIn,
  poolHardware,
  requestText,
  hostInQueue,
  globMatch,
  type PoolHardware,
} from "./fit.ts";
import type { HostFilter, Placement, QueueSpec, Resources, SchedHost, SchedJob, ScheduleResult } from "./types.ts";

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
  hw: PoolHardware;
  /** The ok members; null when there is none. */
  tree: PoolTree | null;
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
  /** The reserved host named in the "held" reason. */
  heldBy?: number;
  /** No host is left to reserve for this request. */
  noCandidate?: boolean;
}

interface QueueCtx {
  spec: QueueSpec;
  pool: Pool;
  placed: number;
  noOkReason: string | null | undefined;
  /** By cpus, then memBytes, then gpus (number keys: no string built per job). */
  shapes: Map<number, Map<number, Map<number, ShapeMemo>>>;
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
  /** Jobs placed on the host this round. */
  private readonly placedJobs: Int32Array;
  /** Job id holding a backfill reservation on the host; NaN = none. */
  private readonly resJob: Float64Array;
  private readonly resC: Float64Array;
  private readonly resM: Float64Array;
  private readonly resG: Float64Array;
  /** For each host, the trees it is a leaf of. */
  private readonly treesOf: PoolTree[][];
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
    this.placedJobs = new Int32Array(n);
    this.load1 = new Float64Array(n);
    this.ncpus = new Float64Array(n);
    this.resJob = new Float64Array(n).fill(NaN);
    this.resC = new Float64Array(n);
    this.resM = new Float64Array(n);
    this.resG = new Float64Array(n);
    this.treesOf = [];
    for (let i = 0; i < n; i++) {
      const h = hosts[i]!;
      this.freeC[i] = h.ncpus - h.used.cpus;
      this.freeM[i] = h.memBytes - h.used.memBytes;
      this.freeG[i] = h.gpus - h.used.gpus;
      // A missing or nonsense load reads as idle; a host without cpus divides by 1.
      this.load1[i] = h.load1 !== null && Number.isFinite(h.load1) && h.load1 > 0 ? h.load1 : 0;
      this.ncpus[i] = h.ncpus > 0 ? h.ncpus : 1;
      this.treesOf.push([]);
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
    if (job.filter && filtering(job.filter)) return this.considerFiltered(job, q, job.filter);
    const memo = shapeMemo(q, job);
    if (memo.never === undefined) memo.never = neverFitsIn(job, q.spec.name, q.pool.hw, this.n > 0);
    if (memo.never !== null) return memo.never;
    const gate = this.gates(job, q);
    if (gate !== null) return gate;
    const tree = q.pool.tree;
    if (!tree) return (q.noOkReason ??= this.noOkReason(q));
    if (memo.fail === undefined) {
      const h = tree.find(job.cpus, job.memBytes, job.gpus);
      if (h >= 0) {
        this.place(job, h, q);
        return null;
      }
      memo.fail = "held";
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

  /** Backoff, the queue's limit, the round's limit: why `job` is not tried now, or null. */
  private gates(job: SchedJob, q: QueueCtx): string | null {
    if (this.nowMs < job.notBeforeMs) return `retry backoff until ${isoTime(job.notBeforeMs)}`;
    const max = q.spec.maxRunning;
    if (max !== undefined && q.spec.running + q.placed >= max) return `queue ${q.spec.name} at its limit of ${max} running`;
    if (this.placements.length >= this.maxPlacements) {
      return `not considered this round: the round placed its limit of ${this.maxPlacements} jobs`;
    }
    return null;
  }

  /**
   * A job with placement rules: a pass over its queue's hosts that match
   * them (no tree, no memo: these jobs are expected to be few). Same order
   * as the tree (least loaded that fits); blocked, it reserves the matching
   * host with the most free cpus the same way (an exclusive job reserves
   * the whole host, so small jobs cannot keep it busy for ever).
   */
  private considerFiltered(job: SchedJob, q: QueueCtx, f: HostFilter): string | null {
    const what = filterText(f);
    const members = q.pool.members.filter((i) => matchesFilter(this.hosts[i]!, f));
    if (members.length === 0) return `no host in queue ${q.spec.name} matches ${what}`;
    const never = neverFitsIn(job, q.spec.name, poolHardware(members.map((i) => this.hosts[i]!)), true);
    if (never !== null) return `${never} (of the hosts matching ${what})`;
    const gate = this.gates(job, q);
    if (gate !== null) return gate;
    const open = members.filter((i) => isOpen(this.hosts[i]!) && !this.exclusiveNow(i));
    if (open.length === 0) return `no ok host in queue ${q.spec.name} matches ${what}: ${this.statesText(members)}`;
    let best = -1;
    for (const i of open) {
      if (f.exclusive && !this.idle(i)) continue;
      const s = this.leafState(i);
      if (!(s.availC >= job.cpus && s.availM >= job.memBytes && s.availG >= job.gpus)) continue;
      if (best < 0 || this.lessLoadedHost(i, best)) best = i;
    }
    if (best >= 0) {
      this.place(job, best, q);
      if (f.exclusive) this.makeExclusive(best);
      return null;
    }
    const held = open.find((i) => !Number.isNaN(this.resJob[i]!) && (f.exclusive ? this.idle(i) : this.freeC[i]! >= job.cpus && this.freeM[i]! >= job.memBytes && this.freeG[i]! >= job.gpus));
    if (held !== undefined) return `held for job ${this.resJob[held]} (backfill reservation on ${this.hosts[held]!.hostname})`;
    // Blocked on resources: reserve the matching host with the most free cpus whose hardware holds it.
    let res = -1;
    for (const i of open) {
      const h = this.hosts[i]!;
      if (!Number.isNaN(this.resJob[i]!) || !covers(hardware(h), job)) continue;
      if (res < 0 || this.freeC[i]! > this.freeC[res]! || (this.freeC[i] === this.freeC[res] && h.hostId < this.hosts[res]!.hostId)) res = i;
    }
    let reason: string;
    if (f.exclusive) reason = `needs a whole host (--exclusive): every ok host matching ${what} runs jobs`;
    else {
      const top = open.reduce((a, b) => (this.freeC[b]! > this.freeC[a]! ? b : a));
      reason = `needs ${requestText(job)}; best ok host matching ${what} is ${this.hosts[top]!.hostname} with ${freeText({ cpus: this.freeC[top]!, memBytes: this.freeM[top]!, gpus: this.freeG[top]! }, job)} free`;
    }
    if (res < 0) return reason;
    const h = this.hosts[res]!;
    this.resJob[res] = job.id;
    this.resC[res] = f.exclusive ? h.ncpus : job.cpus;
    this.resM[res] = f.exclusive ? h.memBytes : job.memBytes;
    this.resG[res] = f.exclusive ? h.gpus : job.gpus;
    this.refresh(res);
    return `${reason}; holds the backfill reservation on ${h.hostname}`;
  }

  /** No job runs on host i, none was placed there this round. */
  private idle(i: number): boolean {
    const h = this.hosts[i]!;
    const running = h.jobs ?? (h.used.cpus > 0 || h.used.memBytes > 0 || h.used.gpus > 0 ? 1 : 0);
    return running === 0 && this.placedJobs[i] === 0;
  }

  private exclusiveNow(i: number): boolean {
    return this.hosts[i]!.exclusive === true || this.exclusivePlaced.has(i);
  }

  private readonly exclusivePlaced = new Set<number>();

  /** An exclusive job was placed on host i: nothing else fits there for the rest of the round. */
  private makeExclusive(i: number): void {
    this.exclusivePlaced.add(i);
    this.freeC[i] = Math.min(this.freeC[i]!, -1);
    this.freeM[i] = Math.min(this.freeM[i]!, -1);
    this.freeG[i] = Math.min(this.freeG[i]!, -1);
    this.refresh(i);
  }

  private lessLoadedHost(a: number, b: number): boolean {
    const la = (this.load1[a]! + this.placedC[a]!) / this.ncpus[a]!;
    const lb = (this.load1[b]! + this.placedC[b]!) / this.ncpus[b]!;
    return la < lb || (la === lb && this.hosts[a]!.hostId < this.hosts[b]!.hostId);
  }

  private place(job: SchedJob, h: number, q: QueueCtx): void {
    this.freeC[h]! -= job.cpus;
    this.freeM[h]! -= job.memBytes;
    this.freeG[h]! -= job.gpus;
    this.placedC[h]! += job.cpus;
    this.placedJobs[h]!++;
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
    const best = q.pool.tree!.mostFree(job.cpus, job.memBytes, job.gpus, true);
    if (best < 0) {
      memo.noCandidate = true; // candidates only get fewer within a round
      return null;
    }
    this.resJob[best] = job.id;
    this.resC[best] = job.cpus;
    this.resM[best] = job.memBytes;
    this.resG[best] = job.gpus;
    this.refresh(best);
    return this.hosts[best]!.hostname;
  }

  /** If only reservations keep `job` out: which one ("held for job 12 (backfill reservation on b)"). */
  private heldReason(job: SchedJob, q: QueueCtx, memo: ShapeMemo): string | null {
    let h = memo.heldBy ?? -1;
    if (!(h >= 0 && this.freeC[h]! >= job.cpus && this.freeM[h]! >= job.memBytes && this.freeG[h]! >= job.gpus)) {
      h = memo.heldBy = q.pool.tree!.reservedFitting(job.cpus, job.memBytes, job.gpus);
    }
    return h < 0 ? null : `held for job ${this.resJob[h]} (backfill reservation on ${this.hosts[h]!.hostname})`;
  }

  /** "needs …; best ok host X has … free", or which larger hosts are not ok. */
  private blockedReason(job: SchedJob, q: QueueCtx): string {
    const need = `needs ${requestText(job)}`;
    const best = q.pool.tree!.mostFree(job.cpus, job.memBytes, job.gpus, false);
    if (best >= 0) {
      const free = { cpus: this.freeC[best]!, memBytes: this.freeM[best]!, gpus: this.freeG[best]! };
      const res = this.resJob[best]!;
      const note = Number.isNaN(res) ? "" : ` (reserved for job ${res})`;
      return `${need}; best ok host ${this.hosts[best]!.hostname} has ${freeText(free, job)} free${note}`;
    }
    // Some member's hardware fits (neverFits said so), but none of those is ok.
    const big = q.pool.members.filter((i) => !isOpen(this.hosts[i]!) && covers(hardware(this.hosts[i]!), job));
    return `${need}; no ok host in queue ${q.spec.name} is large enough: ${this.statesText(big)}`;
  }

  private noOkReason(q: QueueCtx): string {
    return `no ok host in queue ${q.spec.name}: ${this.statesText(q.pool.members)}`;
  }

  /** "node-a busy, node-b drained, … and N more", by hostname. */
  private statesText(idx: readonly number[]): string {
    const hs = idx.map((i) => this.hosts[i]!).sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
    return listText(hs.map((h) => `${h.hostname} ${stateWord(h)}`));
  }

  /** Pushes host `h`'s current load, free and reserved resources into every tree it is in. */
  private refresh(h: number): void {
    const trees = this.treesOf[h]!;
    if (trees.length === 0) return;
    const leaf = this.leafState(h);
    for (const t of trees) t.update(h, leaf);
  }

  private leafState(h: number): LeafState {
    const freeC = this.freeC[h]!;
    const freeM = this.freeM[h]!;
    const freeG = this.freeG[h]!;
    const reserved = !Number.isNaN(this.resJob[h]!);
    return {
      load: (this.load1[h]! + this.placedC[h]!) / this.ncpus[h]!,
      availC: reserved ? leftOver(freeC, this.resC[h]!) : freeC,
      availM: reserved ? leftOver(freeM, this.resM[h]!) : freeM,
      availG: reserved ? leftOver(freeG, this.resG[h]!) : freeG,
      freeC,
      freeM,
      freeG,
      reserved,
    };
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
    for (const i of this.byId) {
      const h = this.hosts[i]!;
      if (!hostInQueue(h.hostname, spec)) continue;
      members.push(i);
      if (isOpen(h)) ok.push(i);
    }
    const tree = ok.length > 0 ? new PoolTree(ok, this.hosts, ok.map((h) => this.leafState(h))) : null;
    for (const h of ok) this.treesOf[h]!.push(tree!);
    pool = { members, hw: poolHardware(members.map((i) => this.hosts[i]!)), tree };
    this.pools.set(key, pool);
    return pool;
  }
}

/** Whether a host takes new jobs: ok, not closed, no exclusive job on it. */
function isOpen(h: SchedHost): boolean {
  return h.state === "ok" && h.closed === undefined && h.exclusive !== true;
}

/** A host's state for reasons: why it is closed, if it is. */
function stateWord(h: SchedHost): string {
  if (h.state !== "ok") return h.state;
  if (h.closed !== undefined) return h.closed;
  return h.exclusive ? "running an exclusive job" : h.state;
}

function filtering(f: HostFilter): boolean {
  return (f.hosts?.length ?? 0) > 0 || (f.exclude?.length ?? 0) > 0 || (f.constraint?.length ?? 0) > 0 || f.exclusive === true;
}

/** Whether host `h` is one a job with filter `f` may run on (its state aside). */
export function matchesFilter(h: Pick<SchedHost, "hostname" | "labels">, f: HostFilter): boolean {
  if (f.hosts && f.hosts.length > 0 && !f.hosts.some((p) => globMatch(p, h.hostname))) return false;
  if (f.exclude && f.exclude.some((p) => globMatch(p, h.hostname))) return false;
  if (f.constraint && f.constraint.length > 0) {
    const labels = h.labels ?? [];
    for (const l of f.constraint) if (!labels.includes(l)) return false;
  }
  return true;
}

/** "--hosts a,b --constraint ssd": a filter as the flags that made it. */
export function filterText(f: HostFilter): string {
  const parts: string[] = [];
  if (f.hosts && f.hosts.length > 0) parts.push(`--hosts ${listText(f.hosts)}`);
  if (f.exclude && f.exclude.length > 0) parts.push(`--exclude ${listText(f.exclude)}`);
  if (f.constraint && f.constraint.length > 0) parts.push(`--constraint ${f.constraint.join(",")}`);
  if (f.exclusive) parts.push("--exclusive");
  return parts.join(" ");
}

function shapeMemo(q: QueueCtx, r: Resources): ShapeMemo {
  let byMem = q.shapes.get(r.cpus);
  if (!byMem) q.shapes.set(r.cpus, (byMem = new Map()));
  let byGpus = byMem.get(r.memBytes);
  if (!byGpus) byMem.set(r.memBytes, (byGpus = new Map()));
  let memo = byGpus.get(r.gpus);
  if (!memo) byGpus.set(r.gpus, (memo = {}));
  return memo;
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

/** What a tree leaf knows of its host; the Round pushes it after every change. */
interface LeafState {
  load: number;
  /** What other jobs may take (free, less a reservation's hold). */
  availC: number;
  availM: number;
  availG: number;
  /** Free resources, reservation or not. */
  freeC: number;
  freeM: number;
  freeG: number;
  reserved: boolean;
}

/**
 * Least-load searches keep one "least (load, hostId)" per class of free
 * cpus (≥ 1, ≥ 2, ≥ 4 … ≥ 128, and any), and a job searches the largest class
 * not above its request. Otherwise a host with no cpu left but a low load1
 * would sit at the front of every search and be stepped over by every job;
 * within its class a job meets only hosts with less than twice too few cpus.
 */
const CPU_CLASSES = [-Infinity, 1, 2, 4, 8, 16, 32, 64, 128] as const;

function cpuClass(cpus: number): number {
  let k = 0;
  while (k + 1 < CPU_CLASSES.length && CPU_CLASSES[k + 1]! <= cpus) k++;
  return k;
}

/**
 * The ok hosts of one pool as leaves of a segment tree. Each node keeps,
 * for the leaves below it: per cpu class, the least (load, hostId) leaf;
 * the most (free cpus, free memory, −hostId) leaf, among all and among the
 * unreserved; and the largest value in each dimension of what others may
 * take, of the registered hardware and of reserved hosts' free resources.
 *
 * Queries are best-first searches: a node's best leaf bounds every leaf
 * below it, and a subtree whose largest value falls short in some dimension
 * holds no match, so the first matching leaf popped is the best match (and
 * a popped node whose own best leaf matches is the answer at once). Leaves
 * sit in order of free resources (see `layout`), so alike hosts share
 * subtrees. Usually a query walks one or a few paths down, O(log hosts),
 * not the whole pool; when searches start to wander, the leaves are laid
 * out again (`relayout`).
 */
class PoolTree {
  private readonly size: number;
  private readonly depth: number;
  private readonly hostAt: Int32Array;
  /** Leaf position of each of the round's hosts; -1 = not in this pool or not ok. */
  private readonly posOfHost: Int32Array;
  private readonly states: LeafState[] = [];
  // Leaf values, by position.
  private readonly id: Float64Array;
  private readonly load: Float64Array;
  private readonly freeC: Float64Array;
  private readonly freeM: Float64Array;
  // Node aggregates (node 1 is the root, leaves are size..2·size−1); -1 = no leaf.
  private readonly loadArg: Int32Array[];
  private readonly freeArg: Int32Array;
  private readonly freeArgUnres: Int32Array;
  private readonly availC: Float64Array;
  private readonly availM: Float64Array;
  private readonly availG: Float64Array;
  private readonly hwC: Float64Array;
  private readonly hwM: Float64Array;
  private readonly hwG: Float64Array;
  private readonly resC: Float64Array;
  private readonly resM: Float64Array;
  private readonly resG: Float64Array;
  private readonly heap: Int32Array;
  // The search under way: which best-leaf aggregate, and whether it ranks by load (else by free).
  private arg: Int32Array;
  private byLoad = true;
  /** Nodes popped beyond a few paths' worth since the last layout. */
  private wastedPops = 0;

  /** `members`: host indices (into `hosts`), with their current leaf states. */
  constructor(members: readonly number[], private readonly hosts: readonly SchedHost[], states: readonly LeafState[]) {
    let size = 1;
    let depth = 0;
    while (size < members.length) {
      size *= 2;
      depth++;
    }
    this.size = size;
    this.depth = depth;
    const nodes = 2 * size;
    const none = () => new Int32Array(nodes).fill(-1);
    const low = () => new Float64Array(nodes).fill(-Infinity);
    this.hostAt = new Int32Array(size).fill(-1);
    this.id = new Float64Array(size);
    this.load = new Float64Array(size);
    this.freeC = new Float64Array(size);
    this.freeM = new Float64Array(size);
    this.loadArg = CPU_CLASSES.map(none);
    this.freeArg = none();
    this.freeArgUnres = none();
    this.availC = low();
    this.availM = low();
    this.availG = low();
    this.hwC = low();
    this.hwM = low();
    this.hwG = low();
    this.resC = low();
    this.resM = low();
    this.resG = low();
    this.heap = new Int32Array(nodes);
    this.arg = this.freeArg;
    this.posOfHost = new Int32Array(hosts.length).fill(-1);
    this.layout(members.map((h, k) => ({ h, s: states[k]! })));
  }

  /**
   * Puts the leaves in order of what others may take (gpus, then memory,
   * then cpus, all descending), so that alike hosts share subtrees and a
   * subtree's largest values say much about each of its leaves, then builds
   * every node.
   */
  private layout(leaves: { h: number; s: LeafState }[]): void {
    const { size, hosts } = this;
    leaves.sort((a, b) => b.s.availG - a.s.availG || b.s.availM - a.s.availM || b.s.availC - a.s.availC || hosts[a.h]!.hostId - hosts[b.h]!.hostId);
    leaves.forEach(({ h, s }, pos) => {
      const host = hosts[h]!;
      this.hostAt[pos] = h;
      this.posOfHost[h] = pos;
      this.id[pos] = host.hostId;
      this.hwC[size + pos] = host.ncpus;
      this.hwM[size + pos] = host.memBytes;
      this.hwG[size + pos] = host.gpus;
      this.freeArg[size + pos] = pos;
      this.setLeaf(pos, s);
    });
    for (let node = size - 1; node >= 1; node--) {
      // Registered hardware does not change within a round: set here only.
      const l = 2 * node;
      this.hwC[node] = Math.max(this.hwC[l]!, this.hwC[l + 1]!);
      this.hwM[node] = Math.max(this.hwM[l]!, this.hwM[l + 1]!);
      this.hwG[node] = Math.max(this.hwG[l]!, this.hwG[l + 1]!);
      this.pull(node, CPU_CLASSES.length);
    }
  }

  /**
   * Placements and reservations change what hosts have free, and a layout
   * made for the old values lets searches wander. Once searches have wasted
   * about as many steps as a new layout costs, lay the leaves out again.
   */
  private relayout(): void {
    this.wastedPops = 0;
    const leaves: { h: number; s: LeafState }[] = [];
    for (let pos = 0; pos < this.size; pos++) {
      const h = this.hostAt[pos]!;
      if (h >= 0) leaves.push({ h, s: this.states[pos]! });
    }
    this.layout(leaves);
  }

  private setLeaf(pos: number, s: LeafState): void {
    const node = this.size + pos;
    this.states[pos] = s;
    this.load[pos] = s.load;
    this.freeC[pos] = s.freeC;
    this.freeM[pos] = s.freeM;
    for (let k = 0; k < CPU_CLASSES.length; k++) this.loadArg[k]![node] = s.availC >= CPU_CLASSES[k]! ? pos : -1;
    this.availC[node] = s.availC;
    this.availM[node] = s.availM;
    this.availG[node] = s.availG;
    this.freeArgUnres[node] = s.reserved ? -1 : pos;
    this.resC[node] = s.reserved ? s.freeC : -Infinity;
    this.resM[node] = s.reserved ? s.freeM : -Infinity;
    this.resG[node] = s.reserved ? s.freeG : -Infinity;
  }

  /** Host `h` (an index into the round's hosts) now has state `s`. */
  update(h: number, s: LeafState): void {
    const pos = this.posOfHost[h]!;
    // Cpu classes above both the old and the new free cpus hold no change.
    const classes = cpuClass(Math.max(this.availC[this.size + pos]!, s.availC)) + 1;
    this.setLeaf(pos, s);
    for (let node = (this.size + pos) >> 1; node >= 1; node >>= 1) this.pull(node, classes);
  }

  /** The least-loaded host (ties: lowest hostId) that can take c, m, g; -1 if none. */
  find(c: number, m: number, g: number): number {
    this.arg = this.loadArg[cpuClass(c)]!;
    this.byLoad = true;
    const found = this.search(c, m, g);
    if (this.wastedPops > 4 * this.size) this.relayout();
    return found;
  }

  /** The host with the most free cpus, then memory (then lowest hostId) whose hardware holds c, m, g; -1 if none. */
  mostFree(c: number, m: number, g: number, unreservedOnly: boolean): number {
    this.arg = unreservedOnly ? this.freeArgUnres : this.freeArg;
    this.byLoad = false;
    return this.search(c, m, g);
  }

  /** A reserved host whose free resources (reservation ignored) would take c, m, g; -1 if none. */
  reservedFitting(c: number, m: number, g: number): number {
    const { heap, size } = this;
    let len = 0;
    heap[len++] = 1;
    while (len > 0) {
      const node = heap[--len]!;
      if (!(this.resC[node]! >= c && this.resM[node]! >= m && this.resG[node]! >= g)) continue;
      if (node >= size) return this.hostAt[node - size]!;
      heap[len++] = 2 * node + 1;
      heap[len++] = 2 * node;
    }
    return -1;
  }

  private search(c: number, m: number, g: number): number {
    const { heap, size, arg } = this;
    if (!this.admits(1, c, m, g)) return -1;
    let len = 1;
    heap[0] = 1;
    let budget = 2 * this.depth + 4; // pops a well-laid-out tree needs at most, about
    while (len > 0) {
      if (--budget < 0) this.wastedPops++;
      const node = heap[0]!;
      // The node's best leaf comes first of all leaves left: if it matches, it is the answer.
      const best = arg[node]!;
      if (best >= 0 && this.admits(size + best, c, m, g)) return this.hostAt[best]!;
      const last = heap[--len]!;
      if (len > 0) this.siftDown(last, len);
      if (node >= size) continue;
      const l = 2 * node;
      if (this.admits(l, c, m, g)) len = this.push(l, len);
      if (this.admits(l + 1, c, m, g)) len = this.push(l + 1, len);
    }
    return -1;
  }

  /** Whether the subtree under `node` may hold a match (exact for a leaf). */
  private admits(node: number, c: number, m: number, g: number): boolean {
    if (this.arg[node]! < 0) return false;
    if (this.byLoad) return this.availC[node]! >= c && this.availM[node]! >= m && this.availG[node]! >= g;
    return this.hwC[node]! >= c && this.hwM[node]! >= m && this.hwG[node]! >= g;
  }

  /** Whether leaf position a comes before b by (load, hostId); -1 comes last. */
  private lessLoaded(a: number, b: number): boolean {
    if (a < 0) return false;
    if (b < 0) return true;
    const la = this.load[a]!;
    const lb = this.load[b]!;
    return la < lb || (la === lb && this.id[a]! < this.id[b]!);
  }

  /** Whether leaf position a comes before b by (free cpus, free memory) descending, then hostId; -1 comes last. */
  private freer(a: number, b: number): boolean {
    if (a < 0) return false;
    if (b < 0) return true;
    const ca = this.freeC[a]!;
    const cb = this.freeC[b]!;
    if (ca !== cb) return ca > cb;
    const ma = this.freeM[a]!;
    const mb = this.freeM[b]!;
    return ma > mb || (ma === mb && this.id[a]! < this.id[b]!);
  }

  /** Whether heap entry x comes before y in the search under way. */
  private before(x: number, y: number): boolean {
    const a = this.arg;
    return this.byLoad ? this.lessLoaded(a[x]!, a[y]!) : this.freer(a[x]!, a[y]!);
  }

  private pull(node: number, classes: number): void {
    const l = 2 * node;
    const r = l + 1;
    for (let k = 0; k < classes; k++) {
      const a = this.loadArg[k]!;
      const ar = a[r]!;
      const al = a[l]!;
      a[node] = this.lessLoaded(ar, al) ? ar : al;
    }
    const { freeArg, freeArgUnres } = this;
    freeArg[node] = this.freer(freeArg[r]!, freeArg[l]!) ? freeArg[r]! : freeArg[l]!;
    freeArgUnres[node] = this.freer(freeArgUnres[r]!, freeArgUnres[l]!) ? freeArgUnres[r]! : freeArgUnres[l]!;
    this.availC[node] = Math.max(this.availC[l]!, this.availC[r]!);
    this.availM[node] = Math.max(this.availM[l]!, this.availM[r]!);
    this.availG[node] = Math.max(this.availG[l]!, this.availG[r]!);
    this.resC[node] = Math.max(this.resC[l]!, this.resC[r]!);
    this.resM[node] = Math.max(this.resM[l]!, this.resM[r]!);
    this.resG[node] = Math.max(this.resG[l]!, this.resG[r]!);
  }

  private push(node: number, len: number): number {
    const heap = this.heap;
    let i = len;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(node, heap[parent]!)) break;
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
      if (child + 1 < len && this.before(heap[child + 1]!, heap[child]!)) child++;
      if (!this.before(heap[child]!, node)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = node;
  }
}
