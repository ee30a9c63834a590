/**
 * Per-job placement rules in the pure scheduler (docs/jobs.md): --hosts,
 * --exclude, --constraint (labels), --exclusive, and hosts that take no
 * jobs (a master's host, one being reconciled).
 */
import { describe, expect, test } from "bun:test";
import { schedule, type QueueSpec, type SchedHost, type SchedJob } from "../../src/jobs/index.ts";

const NOW = 1_000_000;
const host = (hostId: number, hostname: string, o: Partial<SchedHost> = {}): SchedHost => ({
  hostId,
  hostname,
  state: "ok",
  ncpus: 4,
  memBytes: 2 ** 34,
  gpus: 0,
  load1: 0,
  used: { cpus: 0, memBytes: 0, gpus: 0 },
  ...o,
});
const job = (id: number, o: Partial<SchedJob> = {}): SchedJob => ({ id, queue: "default", priority: 0, notBeforeMs: 0, cpus: 1, memBytes: 0, gpus: 0, ...o });
const qs = (q: Partial<QueueSpec> = {}) => new Map([["default", { name: "default", hosts: [], priority: 0, running: 0, ...q }]]);
const placed = (r: ReturnType<typeof schedule>, hosts: SchedHost[]) => Object.fromEntries(r.placements.map((p) => [p.jobId, hosts.find((h) => h.hostId === p.hostId)!.hostname]));

describe("--hosts, --exclude, --constraint", () => {
  const hosts = [host(1, "a1", { labels: ["ssd"] }), host(2, "a2", { labels: ["ssd", "ib"], load1: 3 }), host(3, "b1")];

  test("a job runs only on hosts matching all its rules, least loaded first", () => {
    const r = schedule(
      [job(1, { filter: { hosts: ["a*"] } }), job(2, { filter: { constraint: ["ib"] } }), job(3, { filter: { exclude: ["a*"] } }), job(4, { filter: { hosts: ["a*"], constraint: ["ssd"] } })],
      hosts,
      qs(),
      NOW,
    );
    expect(placed(r, hosts)).toEqual({ 1: "a1", 2: "a2", 3: "b1", 4: "a1" });
  });

  test("no matching host: the reason names the rule", () => {
    const r = schedule([job(1, { filter: { constraint: ["gpu"] } }), job(2, { filter: { hosts: ["zz"] } })], hosts, qs(), NOW);
    expect(r.placements).toEqual([]);
    expect(r.waiting.get(1)).toBe("no host in queue default matches --constraint gpu");
    expect(r.waiting.get(2)).toBe("no host in queue default matches --hosts zz");
  });

  test("matching hosts too small ever, or all busy: said so", () => {
    const r = schedule([job(1, { cpus: 8, filter: { hosts: ["a1"] } })], hosts, qs(), NOW);
    expect(r.waiting.get(1)).toMatch(/no host in queue default has 8 cpus.*matching --hosts a1/);
    const busy = [host(1, "a1", { state: "busy" }), host(2, "b1")];
    const r2 = schedule([job(1, { filter: { hosts: ["a1"] } })], busy, qs(), NOW);
    expect(r2.waiting.get(1)).toBe("no ok host in queue default matches --hosts a1: a1 busy");
  });

  test("a filtered job blocked on resources reserves its best matching host", () => {
    const full = [host(1, "a1", { used: { cpus: 3, memBytes: 0, gpus: 0 } }), host(2, "b1")];
    const r = schedule([job(1, { cpus: 2, filter: { hosts: ["a1"] } }), job(2, { cpus: 1, filter: { hosts: ["a1"] } })], full, qs(), NOW);
    expect(r.placements).toEqual([]);
    expect(r.waiting.get(1)).toMatch(/holds the backfill reservation on a1/);
    expect(r.waiting.get(2)).toMatch(/held for job 1/);
  });
});

describe("--exclusive", () => {
  test("only on an idle host, and nothing else joins it in the round", () => {
    const hosts = [host(1, "a", { used: { cpus: 1, memBytes: 0, gpus: 0 }, jobs: 1 }), host(2, "b", { load1: 2 })];
    const r = schedule([job(1, { filter: { exclusive: true } }), job(2), job(3)], hosts, qs(), NOW);
    expect(placed(r, hosts)).toEqual({ 1: "b", 2: "a", 3: "a" });
  });

  test("a host running an exclusive job takes nothing more; an exclusive job waits for an idle host and reserves it", () => {
    const hosts = [host(1, "a", { exclusive: true, jobs: 1, used: { cpus: 1, memBytes: 0, gpus: 0 } }), host(2, "b", { jobs: 1, used: { cpus: 1, memBytes: 0, gpus: 0 } })];
    const r = schedule([job(1, { filter: { exclusive: true } }), job(2)], hosts, qs(), NOW);
    expect(r.placements).toEqual([]);
    expect(r.waiting.get(1)).toMatch(/needs a whole host \(--exclusive\).*holds the backfill reservation on b/);
    expect(r.waiting.get(2)).toMatch(/b/);
  });
});

describe("hosts that take no jobs", () => {
  test("a closed host is skipped and named with its reason", () => {
    const hosts = [host(1, "m1", { closed: "master host (agent.jobs.onMaster is off)" })];
    const r = schedule([job(1)], hosts, qs(), NOW);
    expect(r.placements).toEqual([]);
    expect(r.waiting.get(1)).toBe("no ok host in queue default: m1 master host (agent.jobs.onMaster is off)");
    const two = [...hosts, host(2, "w1")];
    expect(placed(schedule([job(1)], two, qs(), NOW), two)).toEqual({ 1: "w1" });
  });
});
