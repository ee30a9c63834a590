/** The target fields of fan-out request bodies (exec, upgrade): exactly one of hosts, all or queue. */
import * as v from "valibot";
import type { MasterMessage } from "../../control/index.ts";
import type { QueueSpec } from "../../jobs/index.ts";
import type { HostTable } from "../hosts/table.ts";
import type { RequestRouter } from "../requests/router.ts";
import { resolveTargets, type Target, type TargetHost, type TargetSpec } from "../requests/targets.ts";
import { HttpError } from "./errors.ts";

/** More names than this in one request is a mistake, not a cluster. */
export const TARGET_NAMES_MAX = 100_000;

export const TargetFields = {
  hosts: v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(255))), v.minLength(1, "hosts: name at least one host"), v.maxLength(TARGET_NAMES_MAX))),
  all: v.optional(v.boolean()),
  queue: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
};

type WithTargets = { hosts?: string[] | undefined; all?: boolean | undefined; queue?: string | undefined };

/** For `v.check(hasOneTarget, ONE_TARGET)` at the end of a body's pipe. */
export function hasOneTarget<T extends WithTargets>(b: T): boolean {
  return [b.hosts !== undefined, b.all === true, b.queue !== undefined].filter(Boolean).length === 1;
}
export const ONE_TARGET = "give exactly one of hosts (a list of names), all (true) or queue (a queue name)";

export function targetSpecOf(b: WithTargets): TargetSpec {
  if (b.hosts !== undefined) return { hosts: b.hosts };
  if (b.all === true) return { all: true };
  return { queue: b.queue! };
}

/** How routes reach agents: a send on a host's control channel, and the router that matches answers to requests. */
export interface AgentLink {
  /** Sends on the host's current session; false if it has none. */
  send(hostId: number, msg: MasterMessage): boolean;
  /** Whether this master holds the host's control channel now. */
  hasChannel(hostId: number): boolean;
  requests: RequestRouter;
}

/** The targets of a spec from the host table now; an unknown queue is a 400. */
export type ResolveTargets = (spec: TargetSpec) => { targets: Target[]; summary: string };

export interface TargetDeps {
  hosts: HostTable;
  agents: Pick<AgentLink, "hasChannel">;
  queues(): Map<string, QueueSpec>;
}

export function targetResolver(deps: TargetDeps): ResolveTargets {
  return (spec) => {
    const list: TargetHost[] = deps.hosts.list().map((h) => ({ hostname: h.hostname, hostId: h.hostId, connected: h.connected && deps.agents.hasChannel(h.hostId), version: h.version }));
    const byName = new Map(list.map((h) => [h.hostname, h]));
    const r = resolveTargets(spec, byName, list, deps.queues());
    if (!r.ok) throw new HttpError(400, r.error, r.detail);
    return r;
  };
}
