import { describe, expect, test } from "bun:test";
import {
  hostInQueue,
  jobOrder,
  neverFits,
  schedule,
  type QueueSpec,
  type Resources,
  type SchedHost,
  type SchedJob,
  type ScheduleResult,
} from "../../src/jobs/index.ts";
import { seededRng } from "../helpers/rng.ts";

const GiB = 2 ** 30;
const NOW = 1_000_000;

function host(hostId: number, hostname: string, o: Partial<SchedHost> = {}): SchedHost {
  return { hostId, hostname, state: "ok", ncpus: 8, memBytes: 32 * GiB, gpus: 0, load1: 0, used: { cpus: 0, memBytes: 0, gpus: 0 }, ...o };
}

function job(id: number, o: Partial<SchedJob> = {}): SchedJob {
  return { id, queue: "default", priority: 0, notBeforeMs: 0, cpus: 1, memBytes: 0, gpus: 0, ...o };
}

function queue(name: string, o: Partial<QueueSpec> = {}): QueueSpec {
  return { name, hosts: [], priority: 0, running: 0, ...o };
}

function queues(...qs: QueueSpec[]): Map<string, QueueSpec> {
  return new Map((qs.length ? qs : [queue("default")]).map((q) => [q.name, q]));
}

const used = (cpus: number, memBytes = 0, gpus = 0): Resources => ({ cpus, memBytes, gpus });

/** jobId → hostname of each placement. */
function where(r: ScheduleResult, hosts: readonly SchedHost[]): Record<number, string> {
  const name = new Map(hosts.map((h) => [h.hostId, h.hostname]));
  return Object.fromEntries(r.placements.map((p) => [p.jobId, name.get(p.hostId)!]));
}

describe("order: priority, then FIFO (design §5)", () => {
  test("a higher job priority is placed first", () => {
    const hosts = [host(1, "a", { ncpus: 2 })];
    const r = schedule([job(1, { cpus: 2 }), job(2, { cpus: 2, priority: 5 }), job(3, { cpus: 2 })], hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 2: "a" });
    expect([...r.waiting.keys()]).toEqual([1, 3]);
  });

  test("equal priorities run first in, first out (lower id first)", () => {
    const hosts = [host(1, "a", { ncpus: 2 })];
    const r = schedule([job(9), job(4), job(7)], hosts, queues(), NOW);
    expect(r.placements.map((p) => p.jobId)).toEqual([4, 7]);
    expect([...r.waiting.keys()]).toEqual([9]);
  });

  test("queue priority comes before job priority", () => {
    const qs = queues(queue("default"), queue("urgent", { priority: 10 }));
    const hosts = [host(1, "a", { ncpus: 1 })];
    const r = schedule([job(1, { priority: 100 }), job(2, { queue: "urgent" })], hosts, qs, NOW);
    expect(where(r, hosts)).toEqual({ 2: "a" });
  });

  test("jobOrder sorts queue priority, job priority, id; unknown queues last", () => {
    const qs = queues(queue("default"), queue("urgent", { priority: 10 }));
    const jobs = [job(5), job(3, { queue: "nope", priority: 99 }), job(2, { priority: 1 }), job(4, { queue: "urgent" }), job(1)];
    expect([...jobs].sort((a, b) => jobOrder(a, b, qs)).map((j) => j.id)).toEqual([4, 2, 1, 5, 3]);
    expect(jobOrder(job(1), job(1), qs)).toBe(0);
  });
});

describe("fit: free = registered hardware − used", () => {
  test("cpus", () => {
    const hosts = [host(1, "a", { ncpus: 8, used: used(6) }), host(2, "b", { ncpus: 8, used: used(5), load1: 3 })];
    const r = schedule([job(1, { cpus: 3 })], hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 1: "b" });
  });

  test("memory", () => {
    const hosts = [host(1, "a", { memBytes: 16 * GiB, used: used(0, 15 * GiB) }), host(2, "b", { memBytes: 16 * GiB, used: used(0, 8 * GiB), load1: 7 })];
    const r = schedule([job(1, { memBytes: 2 * GiB })], hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 1: "b" });
  });

  test("gpus", () => {
    const hosts = [host(1, "a", { gpus: 0 }), host(2, "b", { gpus: 2, used: used(0, 0, 2) }), host(3, "c", { gpus: 4, used: used(0, 0, 3), load1: 7 })];
    const r = schedule([job(1, { gpus: 1 }), job(2, { gpus: 1 })], hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 1: "c" });
    expect(r.waiting.get(2)).toBe("needs 1 cpu, 1 gpu; best ok host b has 8 cpus, 0 gpus free; holds the backfill reservation on b");
  });

  test("a placement uses the host's resources for the rest of the round", () => {
    const hosts = [host(1, "a", { ncpus: 4, used: used(2) })];
    const r = schedule([job(1), job(2), job(3)], hosts, queues(), NOW);
    expect(r.placements.map((p) => p.jobId)).toEqual([1, 2]);
    expect(r.waiting.get(3)).toBe("needs 1 cpu; best ok host a has 0 cpus free; holds the backfill reservation on a");
  });
});

describe("least load: load1 / ncpus, then hostId", () => {
  test("the least-loaded host that fits is chosen", () => {
    const hosts = [
      host(1, "a", { ncpus: 8, load1: 4 }), // 0.5
      host(2, "b", { ncpus: 4, load1: 1 }), // 0.25
      host(3, "c", { ncpus: 2, load1: 0 }), // 0, but too small for 3 cpus
      host(4, "d", { ncpus: 4, load1: null }), // no report yet: 0, but 2 cpus used
    ];
    hosts[3]!.used = used(2);
    const r = schedule([job(1, { cpus: 3 })], hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 1: "b" });
  });

  test("equal loads go to the lower hostId, whatever the input order", () => {
    const hosts = [host(9, "z", { load1: 1 }), host(5, "y", { load1: 1 }), host(7, "x", { load1: 1 })];
    expect(where(schedule([job(1)], hosts, queues(), NOW), hosts)).toEqual({ 1: "y" });
  });

  test("one round spreads jobs instead of piling onto the idlest host", () => {
    const hosts = [host(1, "a", { ncpus: 4 }), host(2, "b", { ncpus: 4 }), host(3, "c", { ncpus: 4, load1: 1 })];
    const r = schedule([job(1), job(2), job(3), job(4), job(5)], hosts, queues(), NOW);
    // a 0 → 0.25, b 0 → 0.25, then a/b/c tie at 0.25 and go by hostId.
    expect(where(r, hosts)).toEqual({ 1: "a", 2: "b", 3: "a", 4: "b", 5: "c" });
  });

  test("spreading counts cpus placed relative to the host's size", () => {
    const hosts = [host(1, "small", { ncpus: 2 }), host(2, "large", { ncpus: 16 })];
    const r = schedule([job(1), job(2), job(3)], hosts, queues(), NOW);
    // small: 0 → 0.5; large: 0 → 1/16 → 2/16.
    expect(where(r, hosts)).toEqual({ 1: "small", 2: "large", 3: "large" });
  });
});

describe("host states: busy, drained, unavail and unreach take no new jobs", () => {
  test("only the ok host is used, however idle the others are", () => {
    const hosts = [
      host(1, "a", { state: "busy" }),
      host(2, "b", { state: "drained" }),
      host(3, "c", { state: "unavail" }),
      host(4, "d", { state: "unreach" }),
      host(5, "e", { load1: 7.5 }),
    ];
    const r = schedule([job(1), job(2)], hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 1: "e", 2: "e" });
  });

  test("with no ok host in the pool, the reason names each host's state", () => {
    const hosts = [host(3, "c", { state: "unavail" }), host(1, "a", { state: "busy" }), host(2, "b", { state: "drained" })];
    const r = schedule([job(1)], hosts, queues(), NOW);
    expect(r.placements).toEqual([]);
    expect(r.waiting.get(1)).toBe("no ok host in queue default: a busy, b drained, c unavail");
  });

  test("the list stops after five names", () => {
    const hosts = Array.from({ length: 8 }, (_, i) => host(i + 1, `node-${i + 1}`, { state: i % 2 ? "unreach" : "busy" }));
    const r = schedule([job(1)], hosts, queues(), NOW);
    expect(r.waiting.get(1)).toBe("no ok host in queue default: node-1 busy, node-2 unreach, node-3 busy, node-4 unreach, node-5 busy and 3 more");
  });
});

describe("queue pools: * and ? globs over the whole name, case-sensitive", () => {
  test("hostInQueue", () => {
    const q = (...hosts: string[]) => queue("q", { hosts });
    expect(hostInQueue("anything", q())).toBe(true);
    expect(hostInQueue("node-1", q("node-*"))).toBe(true);
    expect(hostInQueue("node-", q("node-*"))).toBe(true);
    expect(hostInQueue("xnode-1", q("node-*"))).toBe(false);
    expect(hostInQueue("gpu-01", q("gpu-??"))).toBe(true);
    expect(hostInQueue("gpu-1", q("gpu-??"))).toBe(false);
    expect(hostInQueue("gpu-001", q("gpu-??"))).toBe(false);
    expect(hostInQueue("node-1", q("Node-*"))).toBe(false);
    expect(hostInQueue("a.b", q("a.b"))).toBe(true);
    expect(hostInQueue("aXb", q("a.b"))).toBe(false);
    expect(hostInQueue("rack1-node7", q("*-node?"))).toBe(true);
    expect(hostInQueue("rack1-node17", q("*-node?"))).toBe(false);
    expect(hostInQueue("a-b-c", q("*b*c"))).toBe(true);
    expect(hostInQueue("web-1", q("db-*", "web-*"))).toBe(true);
    expect(hostInQueue("cache-1", q("db-*", "web-*"))).toBe(false);
  });

  test("a job runs only on its queue's pool", () => {
    const qs = queues(queue("default"), queue("gpu", { hosts: ["gpu-*"] }));
    const hosts = [host(1, "node-1"), host(2, "gpu-1", { load1: 6 }), host(3, "gpu-2", { load1: 7 })];
    const r = schedule([job(1, { queue: "gpu" }), job(2)], hosts, qs, NOW);
    expect(where(r, hosts)).toEqual({ 1: "gpu-1", 2: "node-1" });
  });
});

describe("queue maxRunning", () => {
  test("a queue stops placing once running + placed this round reaches its limit", () => {
    const qs = queues(queue("default"), queue("gpu", { maxRunning: 2, running: 1 }));
    const hosts = [host(1, "a")];
    const r = schedule([job(1, { queue: "gpu" }), job(2, { queue: "gpu" }), job(3)], hosts, qs, NOW);
    expect(where(r, hosts)).toEqual({ 1: "a", 3: "a" });
    expect(r.waiting.get(2)).toBe("queue gpu at its limit of 2 running");
  });

  test("a queue already at its limit places nothing", () => {
    const qs = queues(queue("default", { maxRunning: 3, running: 3 }));
    const r = schedule([job(1)], [host(1, "a")], qs, NOW);
    expect(r.placements).toEqual([]);
    expect(r.waiting.get(1)).toBe("queue default at its limit of 3 running");
  });
});

describe("retry backoff", () => {
  test("a job waits while now < notBeforeMs", () => {
    const hosts = [host(1, "a")];
    const r = schedule([job(1, { notBeforeMs: NOW + 60_000 }), job(2, { notBeforeMs: NOW })], hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 2: "a" });
    expect(r.waiting.get(1)).toBe(`retry backoff until ${new Date(NOW + 60_000).toISOString()}`);
    expect(r.waiting.get(1)).toBe("retry backoff until 1970-01-01T00:17:40.000Z");
  });
});

describe("backfill: a small job runs past a large blocked one when it cannot delay it", () => {
  test("a small job runs on another host than the one reserved for the blocked job", () => {
    const hosts = [host(1, "a", { used: used(6) }), host(2, "b", { used: used(4) })];
    const r = schedule([job(1, { cpus: 6, priority: 10 }), job(2, { cpus: 2 })], hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 2: "a" });
    expect(r.waiting.get(1)).toBe("needs 6 cpus; best ok host b has 4 cpus free; holds the backfill reservation on b");
  });

  test("a small job that would eat into the reservation is held", () => {
    const hosts = [host(1, "a", { used: used(8) }), host(2, "b", { used: used(4) })];
    const r = schedule([job(1, { cpus: 6, priority: 10 }), job(2, { cpus: 2 })], hosts, queues(), NOW);
    expect(r.placements).toEqual([]);
    expect(r.waiting.get(2)).toBe("held for job 1 (backfill reservation on b)");
  });

  test("a small job that leaves enough on the reserved host is placed there", () => {
    // b's only gpu is busy; job 1 waits for it and reserves b. The cpus job 1
    // will need stay free, so jobs taking only cpus beyond them may run on b.
    const hosts = [host(1, "a", { used: used(8) }), host(2, "b", { gpus: 1, used: used(0, 0, 1) })];
    const jobs = [job(1, { cpus: 2, gpus: 1, priority: 10 }), job(2, { cpus: 4 }), job(3, { cpus: 3 }), job(4, { cpus: 2 })];
    const r = schedule(jobs, hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 2: "b", 4: "b" });
    expect(r.waiting.get(1)).toBe("needs 2 cpus, 1 gpu; best ok host b has 8 cpus, 0 gpus free; holds the backfill reservation on b");
    // After job 2, b has 4 cpus free: 3 more would leave 1 < 2.
    expect(r.waiting.get(3)).toBe("held for job 1 (backfill reservation on b)");
  });

  test("each blocked job reserves one host and a host holds one reservation", () => {
    const hosts = [host(1, "a", { used: used(4) }), host(2, "b", { used: used(4) }), host(3, "c", { used: used(4) })];
    const jobs = [job(1, { cpus: 8, priority: 1 }), job(2, { cpus: 8, priority: 1 }), job(3, { cpus: 4 }), job(4, { cpus: 4 })];
    const r = schedule(jobs, hosts, queues(), NOW);
    expect(where(r, hosts)).toEqual({ 3: "c" });
    expect(r.waiting.get(1)).toEndWith("holds the backfill reservation on a");
    expect(r.waiting.get(2)).toEndWith("holds the backfill reservation on b");
    expect(r.waiting.get(4)).toBe("held for job 1 (backfill reservation on a)");
  });

  test("the reserved host is the ok pool host with the most free cpus whose hardware fits", () => {
    const hosts = [
      host(1, "small", { ncpus: 4, used: used(1) }), // 3 free, but 4 cpus in all: never holds 6
      host(2, "big-1", { ncpus: 16, used: used(14) }),
      host(3, "big-2", { ncpus: 16, used: used(13) }),
      host(4, "big-3", { ncpus: 16, used: used(0), state: "drained" }),
    ];
    const r = schedule([job(1, { cpus: 6 }), job(2, { cpus: 3 }), job(3, { cpus: 2 })], hosts, queues(), NOW);
    expect(r.waiting.get(1)).toBe("needs 6 cpus; best ok host big-2 has 3 cpus free; holds the backfill reservation on big-2");
    // job 2 fits only on small (big-2's 3 free cpus are kept for job 1);
    // job 3 then goes to big-1, the only host left with room.
    expect(where(r, hosts)).toEqual({ 2: "small", 3: "big-1" });
  });

  test("jobs waiting on backoff or a queue limit reserve nothing", () => {
    const qs = queues(queue("default"), queue("capped", { maxRunning: 0 }));
    const hosts = [host(1, "a", { used: used(4) })];
    const jobs = [job(1, { cpus: 8, priority: 5, notBeforeMs: NOW + 1 }), job(2, { cpus: 8, queue: "capped" }), job(3, { cpus: 4 })];
    const r = schedule(jobs, hosts, qs, NOW);
    expect(where(r, hosts)).toEqual({ 3: "a" });
  });
});

describe("neverFits: the request no registered host of the queue could hold", () => {
  const hosts = [host(1, "a", { ncpus: 8, memBytes: 32 * GiB }), host(2, "b", { ncpus: 4, gpus: 2, state: "drained", used: used(4, 0, 2) })];
  const def = queue("default");

  test("too many cpus, memory or gpus names the largest host", () => {
    expect(neverFits({ queue: "default", cpus: 64, memBytes: 0, gpus: 0 }, hosts, def)).toBe("no host in queue default has 64 cpus (largest: 8)");
    expect(neverFits({ queue: "default", cpus: 1, memBytes: 128 * GiB, gpus: 0 }, hosts, def)).toBe(
      "no host in queue default has 128 GiB of memory (largest: 32 GiB)",
    );
    expect(neverFits({ queue: "default", cpus: 16, memBytes: 0, gpus: 4 }, hosts, def)).toBe("no host in queue default has 16 cpus (largest: 8) or 4 gpus (largest: 2)");
  });

  test("each dimension fits somewhere but no host has all of them", () => {
    expect(neverFits({ queue: "default", cpus: 8, memBytes: 0, gpus: 1 }, hosts, def)).toBe("no single host in queue default has 8 cpus, 1 gpu together");
  });

  test("a pool that matches no registered host", () => {
    expect(neverFits({ queue: "gpu", cpus: 1, memBytes: 0, gpus: 0 }, hosts, queue("gpu", { hosts: ["gpu-*"] }))).toBe(
      "no host in queue gpu: the pool matches no registered host",
    );
    expect(neverFits({ queue: "default", cpus: 1, memBytes: 0, gpus: 0 }, [], def)).toBe("no host in queue default: no host is registered");
  });

  test("null when some host's total hardware fits, whatever its state and current use", () => {
    expect(neverFits({ queue: "default", cpus: 4, memBytes: 0, gpus: 2 }, hosts, def)).toBeNull();
    expect(neverFits({ queue: "default", cpus: 8, memBytes: 32 * GiB, gpus: 0 }, hosts, def)).toBeNull();
  });

  test("the scheduler gives the same reason", () => {
    const r = schedule([job(1, { cpus: 64 })], hosts, queues(), NOW);
    expect(r.waiting.get(1)).toBe("no host in queue default has 64 cpus (largest: 8)");
  });
});

describe("waiting reasons: every pending job not placed says why, for `lava ctl job ID`", () => {
  test("resources: what it needs and what the best ok host has free", () => {
    const hosts = [host(1, "node-a", { used: used(6, 24 * GiB) }), host(2, "node-b", { used: used(7, 0) })];
    const r = schedule([job(1, { cpus: 4, memBytes: 2 * GiB })], hosts, queues(), NOW);
    expect(r.waiting.get(1)).toBe("needs 4 cpus, 2 GiB; best ok host node-a has 2 cpus, 8 GiB free; holds the backfill reservation on node-a");
  });

  test("a best host reserved by another job says so", () => {
    const hosts = [host(1, "node-a", { used: used(6) })];
    const r = schedule([job(1, { cpus: 4, priority: 1 }), job(2, { cpus: 3 })], hosts, queues(), NOW);
    expect(r.waiting.get(2)).toBe("needs 3 cpus; best ok host node-a has 2 cpus free (reserved for job 1)");
  });

  test("only hosts that are not ok are large enough", () => {
    const hosts = [host(1, "small", { ncpus: 4 }), host(2, "big-2", { ncpus: 32, state: "unavail" }), host(3, "big-1", { ncpus: 32, state: "busy" })];
    const r = schedule([job(1, { cpus: 16 })], hosts, queues(), NOW);
    expect(r.waiting.get(1)).toBe("needs 16 cpus; no ok host in queue default is large enough: big-1 busy, big-2 unavail");
  });

  test("unknown queue", () => {
    const r = schedule([job(1, { queue: "nope" })], [host(1, "a")], queues(), NOW);
    expect(r.waiting.get(1)).toBe("unknown queue nope");
  });

  test("a request that is not a number ≥ 0", () => {
    const r = schedule([job(1, { cpus: -1 })], [host(1, "a")], queues(), NOW);
    expect(r.waiting.get(1)).toStartWith("invalid request:");
  });

  test("maxPlacements bounds one round; the rest wait for the next", () => {
    const hosts = [host(1, "a")];
    const r = schedule([job(1), job(2), job(3)], hosts, queues(), NOW, { maxPlacements: 2 });
    expect(r.placements.map((p) => p.jobId)).toEqual([1, 2]);
    expect(r.waiting.get(3)).toBe("not considered this round: the round placed its limit of 2 jobs");
    expect(() => schedule([], hosts, queues(), NOW, { maxPlacements: -1 })).toThrow(RangeError);
  });

  test("jobs with the same request as one that failed get the same reason", () => {
    const hosts = [host(1, "a", { state: "busy" }), host(2, "b", { used: used(8) })];
    const r = schedule([job(1, { cpus: 2 }), job(2, { cpus: 2, notBeforeMs: NOW + 1 }), job(3, { cpus: 2 }), job(4, { cpus: 2 })], hosts, queues(), NOW);
    expect(r.waiting.get(1)).toBe("needs 2 cpus; best ok host b has 0 cpus free; holds the backfill reservation on b");
    expect(r.waiting.get(3)).toBe("needs 2 cpus; best ok host b has 0 cpus free (reserved for job 1)");
    expect(r.waiting.get(4)).toBe(r.waiting.get(3)!);
    expect(r.waiting.get(2)).toStartWith("retry backoff until");
  });
});

/**
 * The rules, written the slow obvious way (every host for every job), to
 * check the fast scheduler's placements against.
 */
function reference(pending: readonly SchedJob[], hosts: readonly SchedHost[], qs: ReadonlyMap<string, QueueSpec>, nowMs: number, maxPlacements = 10_000) {
  const free = hosts.map((h) => ({ cpus: h.ncpus - h.used.cpus, memBytes: h.memBytes - h.used.memBytes, gpus: h.gpus - h.used.gpus }));
  const placedCpus = hosts.map(() => 0);
  const reservation: (Resources | null)[] = hosts.map(() => null);
  const placedInQueue = new Map<string, number>();
  const pools = new Map<string, number[]>();
  const never = new Map<string, string | null>();
  const fits = (have: Resources, need: Resources) => have.cpus >= need.cpus && have.memBytes >= need.memBytes && have.gpus >= need.gpus;
  const left = (f: number, r: number) => (f > r ? f - r : Math.min(f, 0));
  const avail = (i: number): Resources => {
    const r = reservation[i];
    const f = free[i]!;
    return r ? { cpus: left(f.cpus, r.cpus), memBytes: left(f.memBytes, r.memBytes), gpus: left(f.gpus, r.gpus) } : f;
  };
  const load = (i: number) => ((hosts[i]!.load1 ?? 0) + placedCpus[i]!) / hosts[i]!.ncpus;
  const out: { jobId: number; hostId: number }[] = [];
  for (const j of [...pending].sort((a, b) => jobOrder(a, b, qs))) {
    const q = qs.get(j.queue);
    if (!q) continue;
    const key = `${j.queue}/${j.cpus}/${j.memBytes}/${j.gpus}`;
    if (!never.has(key)) never.set(key, neverFits(j, hosts, q));
    if (never.get(key) !== null || nowMs < j.notBeforeMs) continue;
    if (q.maxRunning !== undefined && q.running + (placedInQueue.get(q.name) ?? 0) >= q.maxRunning) continue;
    if (out.length >= maxPlacements) continue;
    if (!pools.has(q.name)) pools.set(q.name, hosts.flatMap((h, i) => (h.state === "ok" && hostInQueue(h.hostname, q) ? [i] : [])));
    const pool = pools.get(q.name)!;
    let best = -1;
    for (const i of pool) {
      if (!fits(avail(i), j)) continue;
      if (best < 0 || load(i) < load(best) || (load(i) === load(best) && hosts[i]!.hostId < hosts[best]!.hostId)) best = i;
    }
    if (best >= 0) {
      free[best] = { cpus: free[best]!.cpus - j.cpus, memBytes: free[best]!.memBytes - j.memBytes, gpus: free[best]!.gpus - j.gpus };
      placedCpus[best]! += j.cpus;
      placedInQueue.set(q.name, (placedInQueue.get(q.name) ?? 0) + 1);
      out.push({ jobId: j.id, hostId: hosts[best]!.hostId });
      continue;
    }
    if (pool.some((i) => reservation[i] && fits(free[i]!, j))) continue; // held
    let cand = -1;
    for (const i of pool) {
      const h = hosts[i]!;
      if (reservation[i] || !fits({ cpus: h.ncpus, memBytes: h.memBytes, gpus: h.gpus }, j)) continue;
      const f = free[i]!;
      const c = cand < 0 ? null : free[cand]!;
      if (!c || f.cpus > c.cpus || (f.cpus === c.cpus && (f.memBytes > c.memBytes || (f.memBytes === c.memBytes && h.hostId < hosts[cand]!.hostId)))) cand = i;
    }
    if (cand >= 0) reservation[cand] = { cpus: j.cpus, memBytes: j.memBytes, gpus: j.gpus };
  }
  return out;
}

/** A cluster of `nHosts` and `nJobs` pending jobs, from a seed. */
function cluster(seed: number, nHosts: number, nJobs: number) {
  const rnd = seededRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const hosts: SchedHost[] = [];
  for (let i = 0; i < nHosts; i++) {
    const gpu = rnd() < 0.1;
    const ncpus = pick([4, 8, 16, 32, 64]);
    const memBytes = pick([16, 32, 64, 256]) * GiB;
    const gpus = gpu ? pick([1, 2, 4, 8]) : 0;
    const state = rnd() < 0.85 ? "ok" : pick(["busy", "drained", "unavail", "unreach"] as const);
    const usedCpus = Math.floor(rnd() * (ncpus + 1));
    hosts.push({
      hostId: 1 + ((i * 7919) % (nHosts * 3)), // distinct, not in input order
      hostname: `${gpu ? "gpu" : "node"}-${String(i).padStart(4, "0")}`,
      state,
      ncpus,
      memBytes,
      gpus,
      load1: rnd() < 0.05 ? null : Math.round(rnd() * ncpus * 8) / 4,
      used: { cpus: usedCpus, memBytes: Math.floor(rnd() * memBytes * 0.9), gpus: Math.floor(rnd() * (gpus + 1)) },
    });
  }
  const qs = queues(
    queue("default"),
    queue("gpu", { hosts: ["gpu-*"], priority: 10, maxRunning: Math.ceil(nJobs / 200), running: 3 }),
    queue("short", { hosts: ["node-0*", "node-1?3?"], priority: 5 }),
    queue("empty", { hosts: ["nothing-*"] }),
  );
  const jobs: SchedJob[] = [];
  for (let id = 1; id <= nJobs; id++) {
    const r = rnd();
    const q = r < 0.7 ? "default" : r < 0.85 ? "short" : r < 0.97 ? "gpu" : r < 0.99 ? "empty" : "missing";
    const big = rnd() < 0.1;
    jobs.push({
      id,
      queue: q,
      priority: pick([0, 0, 0, 1, 2]),
      notBeforeMs: rnd() < 0.05 ? NOW + 1000 : 0,
      cpus: big ? pick([16, 32, 48, 128]) : pick([1, 1, 1, 2, 4]),
      memBytes: rnd() < 0.5 ? 0 : pick([1, 2, 8, 64, 300]) * GiB,
      gpus: q === "gpu" ? pick([1, 1, 2, 4]) : 0,
    });
  }
  // Shuffle so input order is not FIFO order.
  for (let i = jobs.length - 1; i > 0; i--) {
    const k = Math.floor(rnd() * (i + 1));
    [jobs[i], jobs[k]] = [jobs[k]!, jobs[i]!];
  }
  return { hosts, qs, jobs };
}

function checkInvariants(jobs: readonly SchedJob[], hosts: readonly SchedHost[], qs: ReadonlyMap<string, QueueSpec>, r: ScheduleResult) {
  const byId = new Map(hosts.map((h) => [h.hostId, h]));
  const jobById = new Map(jobs.map((j) => [j.id, j]));
  const taken = new Map(hosts.map((h) => [h.hostId, { ...h.used }]));
  const placedIds = new Set<number>();
  const perQueue = new Map<string, number>();
  for (const p of r.placements) {
    const j = jobById.get(p.jobId)!;
    const h = byId.get(p.hostId)!;
    expect(placedIds.has(p.jobId)).toBe(false);
    placedIds.add(p.jobId);
    expect(h.state).toBe("ok");
    expect(hostInQueue(h.hostname, qs.get(j.queue)!)).toBe(true);
    expect(j.notBeforeMs <= NOW).toBe(true);
    const t = taken.get(h.hostId)!;
    t.cpus += j.cpus;
    t.memBytes += j.memBytes;
    t.gpus += j.gpus;
    perQueue.set(j.queue, (perQueue.get(j.queue) ?? 0) + 1);
  }
  for (const h of hosts) {
    const t = taken.get(h.hostId)!;
    const before = h.used;
    // What was placed fits in what was free (a host may start over-committed).
    if (t.cpus > before.cpus) expect(t.cpus).toBeLessThanOrEqual(h.ncpus);
    if (t.memBytes > before.memBytes) expect(t.memBytes).toBeLessThanOrEqual(h.memBytes);
    if (t.gpus > before.gpus) expect(t.gpus).toBeLessThanOrEqual(h.gpus);
  }
  for (const [name, n] of perQueue) {
    const q = qs.get(name)!;
    if (q.maxRunning !== undefined) expect(q.running + n).toBeLessThanOrEqual(q.maxRunning);
  }
  // Every pending job is either placed or explained, never both.
  expect(placedIds.size + r.waiting.size).toBe(jobs.length);
  for (const id of placedIds) expect(r.waiting.has(id)).toBe(false);
  for (const reason of r.waiting.values()) expect(reason.length).toBeGreaterThan(0);
}

describe("scale and agreement with the rules written out", () => {
  test("random clusters: placements equal the slow reference's", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { hosts, qs, jobs } = cluster(seed, 5 + (seed % 37), 50 + seed * 7);
      const maxPlacements = seed % 5 === 0 ? 20 : undefined;
      const r = schedule(jobs, hosts, qs, NOW, maxPlacements === undefined ? {} : { maxPlacements });
      expect(r.placements).toEqual(reference(jobs, hosts, qs, NOW, maxPlacements));
      checkInvariants(jobs, hosts, qs, r);
    }
  });

  test("memory-bound clusters (free memory and load unrelated): placements equal the reference's", () => {
    for (let seed = 1; seed <= 3; seed++) {
      const rnd = seededRng(1000 + seed);
      const hosts = Array.from({ length: 200 }, (_, i): SchedHost => host(i + 1, `n${i}`, {
        ncpus: 64, memBytes: 64 * GiB, load1: rnd() * 64,
        used: used(Math.floor(rnd() * 32), Math.floor((56 + rnd() * 8) * GiB)),
      }));
      const jobs = Array.from({ length: 1500 }, (_, i) => job(i + 1, { cpus: 1 + Math.floor(rnd() * 3), memBytes: Math.floor(rnd() * 4 * GiB), priority: Math.floor(rnd() * 2) }));
      const r = schedule(jobs, hosts, queues(), NOW);
      checkInvariants(jobs, hosts, queues(), r);
      expect(r.placements).toEqual(reference(jobs, hosts, queues(), NOW));
    }
  });

  test("10,000 pending jobs × 1,000 hosts: correct, and the same as the reference", () => {
    const { hosts, qs, jobs } = cluster(2024, 1000, 10_000);
    const r = schedule(jobs, hosts, qs, NOW);
    checkInvariants(jobs, hosts, qs, r);
    expect(r.placements.length).toBeGreaterThan(1000);
    expect(r.placements).toEqual(reference(jobs, hosts, qs, NOW));
    const reasons = [...r.waiting.values()];
    expect(reasons.some((s) => s.startsWith("held for job"))).toBe(true);
    expect(reasons.some((s) => s.includes("holds the backfill reservation"))).toBe(true);
    expect(reasons.some((s) => s.startsWith("retry backoff until"))).toBe(true);
    expect(reasons.some((s) => s.startsWith("queue gpu at its limit"))).toBe(true);
    expect(reasons.some((s) => s === "unknown queue missing")).toBe(true);
    expect(reasons.some((s) => s === "no host in queue empty: the pool matches no registered host")).toBe(true);
  });

  test("the same input gives the same round", () => {
    const a = cluster(7, 200, 2000);
    const b = cluster(7, 200, 2000);
    const ra = schedule(a.jobs, a.hosts, a.qs, NOW);
    const rb = schedule(b.jobs, b.hosts, b.qs, NOW);
    expect(rb.placements).toEqual(ra.placements);
    expect([...rb.waiting]).toEqual([...ra.waiting]);
  });
});
