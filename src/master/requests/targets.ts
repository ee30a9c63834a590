/**
 * Which hosts a fan-out request (exec, upgrade) goes to: a list of names,
 * every registered host, or a queue's pool. Pure: the host table's entries
 * and the queue specs come in.
 */
import { hostInQueue, type QueueSpec } from "../../jobs/index.ts";

export interface TargetHost {
  hostname: string;
  hostId: number;
  connected: boolean;
  version: string;
}

/** One target: a registered host, or a name nobody registered (its result is an error). */
export interface Target {
  host: string;
  entry: TargetHost | null;
}

export type TargetSpec = { hosts: readonly string[] } | { all: true } | { queue: string };

export type Targets = { ok: true; targets: Target[]; summary: string } | { ok: false; error: string; detail: string };

/** Names shown in an audit target before the rest is summarised. */
export const TARGET_NAMES_SHOWN = 10;

export function resolveTargets(spec: TargetSpec, hostsByName: ReadonlyMap<string, TargetHost>, sortedHosts: readonly TargetHost[], queues: ReadonlyMap<string, QueueSpec>): Targets {
  if ("hosts" in spec) {
    const seen = new Set<string>();
    const targets: Target[] = [];
    for (const name of spec.hosts) {
      if (seen.has(name)) continue;
      seen.add(name);
      targets.push({ host: name, entry: hostsByName.get(name) ?? null });
    }
    return { ok: true, targets, summary: summarizeNames(targets.map((t) => t.host)) };
  }
  if ("all" in spec) return { ok: true, targets: sortedHosts.map((h) => ({ host: h.hostname, entry: h })), summary: `all (${sortedHosts.length} hosts)` };
  const q = queues.get(spec.queue);
  if (!q) return { ok: false, error: "unknown_queue", detail: `no queue named '${spec.queue}' (configured: ${[...queues.keys()].join(", ")})` };
  const members = sortedHosts.filter((h) => hostInQueue(h.hostname, q));
  return { ok: true, targets: members.map((h) => ({ host: h.hostname, entry: h })), summary: `queue ${spec.queue} (${members.length} hosts)` };
}

/** "a,b,c" up to TARGET_NAMES_SHOWN names, then "a,…,j,… (1234 hosts)". */
export function summarizeNames(names: readonly string[]): string {
  if (names.length <= TARGET_NAMES_SHOWN) return names.join(",");
  return `${names.slice(0, TARGET_NAMES_SHOWN).join(",")},… (${names.length} hosts)`;
}
