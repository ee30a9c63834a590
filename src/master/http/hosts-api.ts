/**
 * Hosts (docs/api.md "Hosts"): the registered hosts (role `read`), and an
 * admin's changes to them through the log: drain, resume, remove (one, or
 * many by name pattern and silence), reset a host key, revoke sessions.
 */
import * as v from "valibot";
import { HOSTS_PER_REMOVE_MAX } from "../../store/index.ts";
import type { StatusPolicy } from "../hosts/status.ts";
import type { HostTable } from "../hosts/table.ts";
import type { TokenGate } from "../tokens.ts";
import { hostView, loadView } from "../views.ts";
import type { ChangeRoute } from "./change.ts";
import { HttpError, json } from "./errors.ts";
import { linearizable, parseBody, readJson, type Router } from "./router.ts";

export interface HostRouteDeps {
  gate: Pick<TokenGate, "check">;
  hosts: HostTable;
  policy: StatusPolicy;
  /** The read barrier before answering from durable state (MasterState.linearizable). */
  barrier: () => Promise<void>;
  /** When this master started: "unseen" counts from here at the earliest. */
  startedMs: number;
  nowMs: () => number;
}

const BulkRemoveSchema = v.pipe(
  v.strictObject({
    /** Host name glob: `*` any characters, `?` one. */
    pattern: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(255))),
    /** Seconds without a report or a control channel. */
    unseenFor: v.optional(v.pipe(v.number(), v.minValue(1))),
    dryRun: v.optional(v.boolean(), false),
  }),
  v.check((b) => b.pattern !== undefined || b.unseenFor !== undefined, "give pattern, unseenFor or both"),
);

const DrainSchema = v.strictObject({ reason: v.optional(v.pipe(v.string(), v.maxLength(1000))) });

/** A host name glob as an anchored regular expression. */
export function globRegex(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

/**
 * The hosts a bulk removal selects. "Unseen" counts from the last report,
 * the channel's end, or this master's start, whichever is latest: a master
 * that just started (or took over) has not had the time to see anyone.
 */
function selectHosts(deps: HostRouteDeps, body: { pattern?: string | undefined; unseenFor?: number | undefined }): string[] {
  const re = body.pattern !== undefined ? globRegex(body.pattern) : null;
  const now = deps.nowMs();
  const out: string[] = [];
  for (const h of deps.hosts.values()) {
    if (re && !re.test(h.hostname)) continue;
    if (body.unseenFor !== undefined) {
      const seen = Math.max(h.lastReportMs, h.disconnectedAtMs, deps.startedMs);
      if (h.connected || now - seen < body.unseenFor * 1000) continue;
    }
    out.push(h.hostname);
  }
  return out.sort();
}

export function hostRoutes(r: Router, deps: HostRouteDeps, change: ChangeRoute): void {
  r.on("GET", "/api/v1/hosts", linearizable(deps.barrier, (req, _p, url) => {
    deps.gate.check(req, url, "read");
    const now = deps.nowMs();
    return json(deps.hosts.list().map((h) => hostView(h, now, deps.policy)));
  }));

  r.on("GET", "/api/v1/hosts/:name", linearizable(deps.barrier, (req, p, url) => {
    deps.gate.check(req, url, "read");
    const h = deps.hosts.byHostname(p.name!);
    if (!h) throw new HttpError(404, "unknown_host", `no host named '${p.name}' is registered (see 'lava ctl hosts')`);
    const now = deps.nowMs();
    return json({ ...hostView(h, now, deps.policy), load: loadView(h, now, deps.policy) });
  }));

  change("POST", "/api/v1/hosts/:name/drain", "host.drain", (p) => p.name ?? null, async (req, p, _url, c) => {
    const body = parseBody(DrainSchema, await readJson(req));
    await c.commit({ type: "host.drain", hostname: p.name!, ...(body.reason ? { reason: body.reason } : {}) });
    return json({ host: p.name, drained: true });
  });
  change("POST", "/api/v1/hosts/:name/resume", "host.resume", (p) => p.name ?? null, async (_req, p, _url, c) => {
    await c.commit({ type: "host.resume", hostname: p.name! });
    return json({ host: p.name, drained: false });
  });
  change("DELETE", "/api/v1/hosts/:name", "host.remove", (p) => p.name ?? null, async (_req, p, _url, c) => {
    await c.commit({ type: "host.remove", hostname: p.name! });
    return json({ host: p.name, removed: true });
  });

  change("POST", "/api/v1/hosts/:name/reset-key", "host.reset-key", (p) => p.name ?? null, async (_req, p, _url, c) => {
    await c.commit({ type: "host.reset-key", hostname: p.name! });
    return json({ host: p.name, hostKey: null, sessionsRevoked: true });
  });
  change("POST", "/api/v1/hosts/:name/revoke-sessions", "host.revoke-sessions", (p) => p.name ?? null, async (_req, p, _url, c) => {
    await c.commit({ type: "host.revoke-sessions", hostname: p.name! });
    return json({ host: p.name, sessionsRevoked: true });
  });
  change("POST", "/api/v1/hosts/remove", "host.remove-many", () => null, async (req, _p, _url, c) => {
    const body = parseBody(BulkRemoveSchema, await readJson(req));
    const names = selectHosts(deps, body);
    const selector = [body.pattern !== undefined ? `pattern ${body.pattern}` : null, body.unseenFor !== undefined ? `unseen for ${body.unseenFor} s` : null].filter(Boolean).join(", ");
    if (body.dryRun) return json({ selector, removed: [], matched: names, count: names.length, dryRun: true });
    const removed: string[] = [];
    for (let i = 0; i < names.length; i += HOSTS_PER_REMOVE_MAX) {
      const a = await c.commit({ type: "host.remove-many", hostnames: names.slice(i, i + HOSTS_PER_REMOVE_MAX), selector });
      removed.push(...(a.result.ok ? ((a.result.value?.removed as string[]) ?? []) : []));
    }
    return json({ selector, removed, count: removed.length });
  });
}
