/**
 * Fitting a request to hardware, queue host pools, and the words the
 * scheduler uses to explain a wait. Pure: no I/O, no clock.
 */
import type { QueueSpec, Resources, SchedHost } from "./types.ts";

/** Longest list of host names in a reason; the rest become "and N more". */
export const REASON_NAMES_MAX = 5;

/**
 * `*` (any run, also empty) and `?` (exactly one character) glob over the
 * whole name, case-sensitive; every other character matches itself. Linear
 * backtracking on the last `*`, so no pattern can blow up.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let starP = -1;
  let starN = 0;
  while (n < name.length) {
    const c = pattern.charCodeAt(p);
    if (p < pattern.length && (c === 63 /* ? */ || c === name.charCodeAt(n))) {
      p++;
      n++;
    } else if (p < pattern.length && c === 42 /* * */) {
      starP = p++;
      starN = n;
    } else if (starP >= 0) {
      p = starP + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

/** Whether a host belongs to a queue's pool: an empty pattern list takes every host. */
export function hostInQueue(hostname: string, queue: QueueSpec): boolean {
  if (queue.hosts.length === 0) return true;
  for (const pattern of queue.hosts) if (globMatch(pattern, hostname)) return true;
  return false;
}

/** Whether `have` covers `need` in every dimension. */
export function covers(have: Resources, need: Resources): boolean {
  return have.cpus >= need.cpus && have.memBytes >= need.memBytes && have.gpus >= need.gpus;
}

/** The registered hardware of a pool, reduced to what fitting questions need. */
export interface PoolHardware {
  hosts: number;
  /** Distinct hardware shapes (a pool of 1,000 hosts usually has a handful). */
  shapes: Resources[];
  largest: Resources;
}

export function poolHardware(hosts: Iterable<Pick<SchedHost, "ncpus" | "memBytes" | "gpus">>): PoolHardware {
  const seen = new Map<string, Resources>();
  const largest = { cpus: -Infinity, memBytes: -Infinity, gpus: -Infinity };
  let count = 0;
  for (const h of hosts) {
    count++;
    const key = `${h.ncpus}/${h.memBytes}/${h.gpus}`;
    if (!seen.has(key)) seen.set(key, { cpus: h.ncpus, memBytes: h.memBytes, gpus: h.gpus });
    largest.cpus = Math.max(largest.cpus, h.ncpus);
    largest.memBytes = Math.max(largest.memBytes, h.memBytes);
    largest.gpus = Math.max(largest.gpus, h.gpus);
  }
  return { hosts: count, shapes: [...seen.values()], largest };
}

/** Why `need` could never run on the pool `hw` of `queueName`, or null if some host's hardware fits. */
export function neverFitsIn(need: Resources, queueName: string, hw: PoolHardware, anyRegistered: boolean): string | null {
  if (hw.hosts === 0) {
    return anyRegistered ? `no host in queue ${queueName}: the pool matches no registered host` : `no host in queue ${queueName}: no host is registered`;
  }
  for (const s of hw.shapes) if (covers(s, need)) return null;
  const short: string[] = [];
  if (need.cpus > hw.largest.cpus) short.push(`${cpusText(need.cpus)} (largest: ${hw.largest.cpus})`);
  if (need.memBytes > hw.largest.memBytes) short.push(`${bytesText(need.memBytes)} of memory (largest: ${bytesText(hw.largest.memBytes)})`);
  if (need.gpus > hw.largest.gpus) short.push(`${gpusText(need.gpus)} (largest: ${hw.largest.gpus})`);
  if (short.length > 0) return `no host in queue ${queueName} has ${short.join(" or ")}`;
  return `no single host in queue ${queueName} has ${requestText(need)} together`;
}

/**
 * The reason a job could never run on any registered host of its queue,
 * whatever the hosts' states and current use; null if some host's total
 * hardware fits it. For refusing a submission, and for `lava ctl job ID`.
 */
export function neverFits(job: Resources & { queue: string }, hosts: readonly SchedHost[], queue: QueueSpec): string | null {
  const pool = queue.hosts.length === 0 ? hosts : hosts.filter((h) => hostInQueue(h.hostname, queue));
  return neverFitsIn(job, queue.name, poolHardware(pool), hosts.length > 0);
}

/** "`needs`" text of a request: cpus always, memory and gpus when asked for. */
export function requestText(r: Resources): string {
  const parts = [cpusText(r.cpus)];
  if (r.memBytes > 0) parts.push(bytesText(r.memBytes));
  if (r.gpus > 0) parts.push(gpusText(r.gpus));
  return parts.join(", ");
}

/** What a host has free, in the dimensions the request asks for (negative shows as 0). */
export function freeText(free: Resources, asked: Resources): string {
  const parts = [cpusText(Math.max(0, free.cpus))];
  if (asked.memBytes > 0) parts.push(bytesText(Math.max(0, free.memBytes)));
  if (asked.gpus > 0) parts.push(gpusText(Math.max(0, free.gpus)));
  return parts.join(", ");
}

export function cpusText(n: number): string {
  return `${n} ${n === 1 ? "cpu" : "cpus"}`;
}

export function gpusText(n: number): string {
  return `${n} ${n === 1 ? "gpu" : "gpus"}`;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** Powers of 1024, at most two decimals, trailing zeros dropped: "2 GiB", "1.5 GiB", "512 MiB". */
export function bytesText(n: number): string {
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Math.round(v * 100) / 100} ${UNITS[u]}`;
}

/** "a, b, c, d, e and 7 more": at most REASON_NAMES_MAX items. */
export function listText(items: readonly string[]): string {
  if (items.length <= REASON_NAMES_MAX) return items.join(", ");
  return `${items.slice(0, REASON_NAMES_MAX).join(", ")} and ${items.length - REASON_NAMES_MAX} more`;
}
