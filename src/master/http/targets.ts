/** The target fields of fan-out request bodies (exec, upgrade): exactly one of hosts, all or queue. */
import * as v from "valibot";
import type { MasterContext } from "../context.ts";
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

/** The targets from the host table now; an unknown queue is a 400. */
export function resolveOrThrow(ctx: MasterContext, spec: TargetSpec): { targets: Target[]; summary: string } {
  const list: TargetHost[] = ctx.hosts.list().map((h) => ({ hostname: h.hostname, hostId: h.hostId, connected: h.connected && ctx.sessions.socketOf(h.hostId) !== undefined, version: h.version }));
  const byName = new Map(list.map((h) => [h.hostname, h]));
  const r = resolveTargets(spec, byName, list, ctx.jobs.queues());
  if (!r.ok) throw new HttpError(400, r.error, r.detail);
  return r;
}
