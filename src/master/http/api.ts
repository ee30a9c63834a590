/**
 * The master's HTTP API (docs/api.md): queries answered from the in-memory
 * host table, token minting, health and metrics.
 */
import * as v from "valibot";
import { newTokenId, RoleSchema, signToken, type Claims } from "../../auth/index.ts";
import { allTokens, auditSince, jobCounts, HOSTS_PER_REMOVE_MAX, StoreError, type Applied, type Command } from "../../store/index.ts";
import { parseWhen } from "../../control/when.ts";
import { COMMIT, VERSION } from "../../version.ts";
import { countStates } from "../hosts/status.ts";
import type { MasterContext } from "../context.ts";
import { hostView, loadView } from "../views.ts";
import { HttpError, json, storeHttpError } from "./errors.ts";
import { renderMetrics } from "./metrics.ts";
import { processStats } from "../process-stats.ts";
import { readJson, Router, type Handler } from "./router.ts";
import { TokenGate } from "../tokens.ts";
import { jobRoutes } from "./jobs-api.ts";
import { raftRoutes } from "./raft-api.ts";
import { renderRaftMetrics } from "../raft/metrics.ts";
import { renderSyncMetrics } from "../sync/metrics.ts";
import { healthPolicy } from "../raft/status.ts";
import { remoteRoutes } from "./remote-api.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { clientIp } from "./client-ip.ts";
import type { RefusalAudit, RefusalRow } from "../audit/refusals.ts";
import type { MasterState } from "../state.ts";

/** Writes refusal audit rows through the log; a failed write is dropped (refusals are best effort, never a reason to fail). */
export function writeRefusalRows(state: MasterState, rows: readonly RefusalRow[], nowMs: () => number): void {
  for (const row of rows) state.propose({ type: "audit.record", at: nowMs(), ...row }).catch(() => {});
}
import { historyRoutes } from "./history-api.ts";
import { telemetryRoutes } from "./telemetry-api.ts";
import { jsonFor } from "./compress.ts";
import { pageOf, parseLoadQuery, pickFields } from "./load-query.ts";
import { renderTelemetryMetrics } from "./telemetry-metrics.ts";

const TokenRequestSchema = v.strictObject({
  role: RoleSchema,
  subject: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  host: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(255))),
  ttlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10 * 365 * 86400))),
});

/** A GET of durable state: answered only once this master is known to be current (MasterState.linearizable). */
export function linearizable(ctx: MasterContext, h: Handler): Handler {
  return async (req, p, url) => {
    await ctx.state.linearizable();
    return h(req, p, url);
  };
}

/**
 * Live load between masters, for `status`: on the leader, how each follower
 * takes it; on a follower, how old its copy is (null alone, or before the
 * first batch from the current leader).
 */
function syncView(ctx: MasterContext, now: number) {
  if (!ctx.state.clustered) return null;
  if (ctx.state.isLeader) return { role: "leader", followers: ctx.sync.stream.stats().map((f) => ({ ...f, lastOkAtMs: undefined, lastOkAt: f.lastOkAtMs ? new Date(f.lastOkAtMs).toISOString() : null })) };
  const st = ctx.state.replication.driver.status();
  const f = ctx.sync.sink.freshness(st.leader, st.term, now);
  return { role: "follower", leader: st.leader || null, ageMs: f?.ageMs ?? null, ...ctx.sync.sink.counters };
}

export function parseBody<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, body);
  if (!r.success) throw new HttpError(400, "bad_request", v.summarize(r.issues));
  return r.output;
}

/** What a state-changing handler gets: the caller, and a way to run a command through the log. */
export interface Change {
  caller: Claims;
  /** Proposes a command stamped with the time and the caller; a refusal becomes an HttpError. */
  commit: (cmd: DistributiveOmit<Command, "at" | "actor" | "actorRole">, notFound?: boolean) => Promise<Applied>;
}
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type ChangeRoute = (
  method: string,
  path: string,
  action: string,
  target: (p: Record<string, string>) => string | null,
  handler: (req: Request, p: Record<string, string>, url: URL, c: Change) => Promise<Response>,
) => void;

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

/** A host name glob as an anchored regular expression. */
export function globRegex(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

/**
 * The hosts a bulk removal selects. "Unseen" counts from the last report,
 * the channel's end, or this master's start, whichever is latest: a master
 * that just started (or took over) has not had the time to see anyone.
 */
function selectHosts(ctx: MasterContext, body: { pattern?: string | undefined; unseenFor?: number | undefined }): string[] {
  const re = body.pattern !== undefined ? globRegex(body.pattern) : null;
  const now = ctx.nowMs();
  const out: string[] = [];
  for (const h of ctx.hosts.values()) {
    if (re && !re.test(h.hostname)) continue;
    if (body.unseenFor !== undefined) {
      const seen = Math.max(h.lastReportMs, h.disconnectedAtMs, ctx.startedMs);
      if (h.connected || now - seen < body.unseenFor * 1000) continue;
    }
    out.push(h.hostname);
  }
  return out.sort();
}

/** A write's client-generated id (docs/api.md): retries carry the same one, and the master applies it once. */
export const REQUEST_ID_HEADER = "x-lava-request-id";
/** Set on an answer that repeats the first outcome of a request id (the log index that applied it). */
export const REPLAYED_HEADER = "x-lava-request-replayed";
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{8,128}$/;

/** The request's id, or null without one; a malformed one is refused (it could not protect the retry). */
function requestIdOf(req: Request): string | null {
  const raw = req.headers.get(REQUEST_ID_HEADER);
  if (raw === null) return null;
  if (!REQUEST_ID_RE.test(raw)) throw new HttpError(400, "bad_request", `${REQUEST_ID_HEADER}: 8 to 128 characters of A-Z a-z 0-9 . _ : - (e.g. a UUID); got ${JSON.stringify(raw.slice(0, 40))}`);
  return raw;
}

export function buildRouter(ctx: MasterContext, refusals: RefusalAudit): Router {
  const r = new Router();

  /** Audits a request that failed before it became a command (bad token, wrong role, bad body): aggregated and budgeted (audit/refusals.ts). */
  function auditRefusal(req: Request, url: URL, action: string, target: string | null, e: HttpError, caller: Claims | null) {
    const rows = refusals.note(
      { source: clientIp(req), action, target, reason: `${e.status} ${e.code}`, actor: caller ? { sub: caller.sub, role: caller.role } : null, tokenPresented: TokenGate.tokenOf(req, url) !== null, detail: e.detail },
      ctx.nowMs(),
    );
    writeRefusalRows(ctx.state, rows, ctx.nowMs);
  }

  /** A state-changing route: admin only, audited whatever happens. */
  function change(method: string, path: string, action: string, target: (p: Record<string, string>) => string | null, handler: (req: Request, p: Record<string, string>, url: URL, c: Change) => Promise<Response>) {
    r.on(method, path, async (req, p, url) => {
      let caller: Claims | null = null;
      let proposed = false;
      try {
        // Identified first, so a refusal of a valid token for its role is audited under its real subject.
        caller = ctx.gate.identify(req, url, "admin");
        ctx.gate.authorize(caller, "admin");
        const who = caller;
        const rid = requestIdOf(req);
        // A handler may commit more than one command: each gets the request's id and its place ("#1", …).
        let commits = 0;
        let replayOf: number | undefined;
        const c: Change = {
          caller: who,
          commit: async (cmd, notFound = true) => {
            proposed = true;
            const n = commits++;
            const requestId = rid === null ? undefined : n === 0 ? rid : `${rid}#${n}`;
            let applied: Applied;
            try {
              applied = await ctx.state.propose({ ...cmd, at: ctx.nowMs(), actor: who.sub, actorRole: who.role, ...(requestId ? { requestId } : {}) } as Command);
            } catch (e) {
              if (e instanceof StoreError) throw storeHttpError(e);
              throw e;
            }
            replayOf ??= applied.result.replayOf;
            if (!applied.result.ok) {
              const status = applied.result.error === "unknown_host" && notFound ? 404 : 409;
              throw new HttpError(status, applied.result.error, applied.result.detail, replayOf !== undefined ? { replayOf } : {});
            }
            return applied;
          },
        };
        const res = await handler(req, p, url, c);
        if (replayOf !== undefined) res.headers.set(REPLAYED_HEADER, String(replayOf));
        return res;
      } catch (e) {
        if (e instanceof HttpError && !proposed) auditRefusal(req, url, action, target(p), e, caller);
        throw e;
      }
    });
  }


  dashboardRoutes(r);
  // wsRetryAfterMs: what a refused /ws upgrade's Retry-After says now (agents cannot read that header).
  // wsResumeRetryAfterMs: the same for upgrades with a session token (their own bucket).
  r.on("GET", "/healthz", () => json({ ok: true, version: VERSION, wsRetryAfterMs: ctx.admission.peek(), wsResumeRetryAfterMs: ctx.resumeAdmission.peek() }));

  r.on("GET", "/metrics", () => {
    const body = renderMetrics({
      nowMs: ctx.nowMs(),
      policy: ctx.policy,
      hosts: ctx.hosts.values(),
      ingest: ctx.ingest.counters,
      sessions: ctx.sessions.count,
      kernel: ctx.kernelDrops(),
      uptimeMs: ctx.nowMs() - ctx.startedMs,
      jobs: jobCounts(ctx.state.store.db),
      jobCounters: ctx.jobs.counters,
      udpErrors: ctx.udpErrors(),
      build: { version: VERSION, commit: COMMIT },
      process: processStats(),
      remote: ctx.remote.metrics(),
      tcpReports: ctx.tcpReports,
      control: { refused: ctx.sessions.refused, resumed: ctx.sessions.resumed },
    });
    const repl = ctx.state.replication;
    const raft = renderRaftMetrics(repl.driver.status(), repl.members, healthPolicy(ctx.config.raft));
    const announce = `# HELP lava_announce_send_errors_total Announces whose send failed (an agent's report port closed); the round goes on.\n# TYPE lava_announce_send_errors_total counter\nlava_announce_send_errors_total ${ctx.announceErrors()}\n`;
    const audit = `# HELP lava_audit_refusals_suppressed_total Refused requests that got no audit row of their own (refusal budgets exceeded).\n# TYPE lava_audit_refusals_suppressed_total counter\nlava_audit_refusals_suppressed_total ${refusals.suppressed}\n`;
    const st = repl.driver.status();
    const sync = ctx.state.clustered ? renderSyncMetrics({ leading: ctx.state.isLeader, followers: ctx.sync.stream.stats(), sink: ctx.sync.sink.counters, ageMs: ctx.sync.sink.freshness(st.leader, st.term, ctx.nowMs())?.ageMs ?? null }) : "";
    const telemetry = renderTelemetryMetrics(ctx.hosts.values(), ctx.telemetry, ctx.nowMs());
    return new Response(body + raft + announce + audit + sync + telemetry, { headers: { "content-type": "text/plain; version=0.0.4" } });
  });

  r.on("GET", "/api/v1/load", (req, _p, url) => {
    ctx.gate.check(req, url, "read");
    const now = ctx.nowMs();
    const q = parseLoadQuery(url.searchParams);
    const hosts = ctx.hosts.list();
    const rows = pageOf(hosts, q).map((h) => loadView(h, now, ctx.policy));
    const res = jsonFor(req, pickFields(rows, q));
    res.headers.set("x-total-count", String(hosts.length));
    return res;
  });

  r.on("GET", "/api/v1/hosts", linearizable(ctx, (req, _p, url) => {
    ctx.gate.check(req, url, "read");
    const now = ctx.nowMs();
    return json(ctx.hosts.list().map((h) => hostView(h, now, ctx.policy)));
  }));

  r.on("GET", "/api/v1/hosts/:name", linearizable(ctx, (req, p, url) => {
    ctx.gate.check(req, url, "read");
    const h = ctx.hosts.byHostname(p.name!);
    if (!h) throw new HttpError(404, "unknown_host", `no host named '${p.name}' is registered (see 'lava ctl hosts')`);
    const now = ctx.nowMs();
    return json({ ...hostView(h, now, ctx.policy), load: loadView(h, now, ctx.policy) });
  }));

  r.on("GET", "/api/v1/status", (req, _p, url) => {
    ctx.gate.check(req, url, "read");
    const now = ctx.nowMs();
    const k = ctx.kernelDrops();
    const k0 = ctx.kernelAtStart;
    const leaderSince = ctx.jobs.leadingSinceMs();
    return json({
      master: {
        version: VERSION,
        commit: COMMIT,
        nodeId: ctx.nodeId,
        uptimeMs: now - ctx.startedMs,
        insecure: ctx.config.insecure,
        advertise: ctx.advertise,
        udpPort: ctx.udpPort,
        reportIntervalMs: ctx.policy.reportIntervalMs,
        leaderForMs: leaderSince === null ? null : now - leaderSince,
      },
      ingest: {
        accepted: ctx.ingest.counters.accepted,
        dropped: { ...ctx.ingest.counters.dropped },
        kernel: k ? { socketDrops: k.socketDrops, rcvbufErrors: k.rcvbufErrors, inErrors: k.inErrors } : null,
        tcp: ctx.tcpReports ? { ...ctx.tcpReports } : null,
        // rcvbufErrors and inErrors count for the whole machine since boot: these are the part since this master started.
        kernelSinceStart: k && k0 ? { rcvbufErrors: Math.max(0, k.rcvbufErrors - k0.rcvbufErrors), inErrors: Math.max(0, k.inErrors - k0.inErrors) } : null,
      },
      hosts: countStates(ctx.hosts.values(), now, ctx.policy),
      jobs: jobCounts(ctx.state.store.db),
      sessions: ctx.sessions.count,
      sync: syncView(ctx, now),
      control: { refused: ctx.sessions.refused, resumed: ctx.sessions.resumed },
    });
  });

  change("POST", "/api/v1/tokens", "token.create", () => null, async (req, _p, _url, c) => {
    const body = parseBody(TokenRequestSchema, await readJson(req));
    const nowSec = Math.floor(ctx.nowMs() / 1000);
    const asked: Claims = {
      sub: body.subject ?? `${body.role}-by-${c.caller.sub}`,
      role: body.role,
      jti: newTokenId(),
      iat: nowSec,
      ...(body.ttlSeconds ? { exp: nowSec + body.ttlSeconds } : {}),
      ...(body.host ? { host: body.host } : {}),
    };
    const a = await c.commit({ type: "token.create", jti: asked.jti, role: asked.role, subject: asked.sub, issuedAt: asked.iat, ...(asked.exp ? { expiresAt: asked.exp } : {}), ...(asked.host ? { host: asked.host } : {}) });
    // The token as recorded: for a retry of a request already applied (x-lava-request-id), the first attempt's.
    const v = (a.result.ok ? a.result.value : undefined) as { jti: string; role: Claims["role"]; subject: string; issuedAt: number; expiresAt?: number; host?: string } | undefined;
    const claims: Claims = v ? { sub: v.subject, role: v.role, jti: v.jti, iat: v.issuedAt, ...(v.expiresAt ? { exp: v.expiresAt } : {}), ...(v.host ? { host: v.host } : {}) } : asked;
    const token = signToken(claims, ctx.jwtKey);
    return json(
      { token, jti: claims.jti, role: claims.role, subject: claims.sub, host: claims.host ?? null, expiresAt: claims.exp ? new Date(claims.exp * 1000).toISOString() : null },
      201,
    );
  });

  r.on("GET", "/api/v1/tokens", linearizable(ctx, (req, _p, url) => {
    ctx.gate.check(req, url, "admin");
    const iso = (sec: number | null) => (sec ? new Date(sec * 1000).toISOString() : null);
    return json(
      allTokens(ctx.state.store.db).map((t) => ({
        jti: t.jti,
        role: t.role,
        subject: t.subject,
        host: t.host,
        createdBy: t.createdBy,
        issuedAt: iso(t.issuedAt),
        expiresAt: iso(t.expiresAt),
        revokedAt: t.revokedAt ? new Date(t.revokedAt).toISOString() : null,
        revokedBy: t.revokedBy,
      })),
    );
  }));

  change("DELETE", "/api/v1/tokens/:jti", "token.revoke", (p) => p.jti ?? null, async (_req, p, _url, c) => {
    await c.commit({ type: "token.revoke", jti: p.jti! });
    return json({ jti: p.jti, revoked: true });
  });

  const DrainSchema = v.strictObject({ reason: v.optional(v.pipe(v.string(), v.maxLength(1000))) });
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
    const names = selectHosts(ctx, body);
    const selector = [body.pattern !== undefined ? `pattern ${body.pattern}` : null, body.unseenFor !== undefined ? `unseen for ${body.unseenFor} s` : null].filter(Boolean).join(", ");
    if (body.dryRun) return json({ selector, removed: [], matched: names, count: names.length, dryRun: true });
    const removed: string[] = [];
    for (let i = 0; i < names.length; i += HOSTS_PER_REMOVE_MAX) {
      const a = await c.commit({ type: "host.remove-many", hostnames: names.slice(i, i + HOSTS_PER_REMOVE_MAX), selector });
      removed.push(...(a.result.ok ? ((a.result.value?.removed as string[]) ?? []) : []));
    }
    return json({ selector, removed, count: removed.length });
  });

  jobRoutes(r, ctx, change);
  historyRoutes(r, ctx);
  telemetryRoutes(r, ctx);
  raftRoutes(r, ctx, change);
  remoteRoutes(r, ctx, change);

  r.on("GET", "/api/v1/audit", linearizable(ctx, (req, _p, url) => {
    ctx.gate.check(req, url, "admin");
    const q = url.searchParams;
    const now = ctx.nowMs();
    const when = (name: string) => {
      const raw = q.get(name);
      if (raw === null || raw === "") return undefined;
      const t = parseWhen(raw, now);
      if (t === null) throw new HttpError(400, "bad_request", `${name}: expected ISO 8601, epoch ms, or a duration like 30m, 2h, 7d; got '${raw}'`);
      return t;
    };
    const limitRaw = q.get("limit");
    const limit = limitRaw === null ? 1000 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new HttpError(400, "bad_request", `limit: a whole number from 1 to 10000; got '${limitRaw}'`);
    const since = when("since");
    const until = when("until");
    const action = q.get("action") ?? undefined;
    const afterRaw = q.get("after");
    const after = afterRaw === null ? undefined : Number(afterRaw);
    if (after !== undefined && (!Number.isInteger(after) || after < 0)) throw new HttpError(400, "bad_request", `after: an audit row id (a whole number ≥ 0); got '${afterRaw}'`);
    const rows = auditSince(ctx.state.store.db, {
      ...(since !== undefined ? { sinceMs: since } : {}),
      ...(until !== undefined ? { untilMs: until } : {}),
      limit,
      ...(action ? { action } : {}),
      ...(after !== undefined ? { afterId: after } : {}),
    });
    // The outcome a request id is answered with on a retry is the state machine's, not the reader's.
    return json(rows.map(({ outcome: _outcome, ...a }) => ({ ...a, at: new Date(a.at).toISOString() })));
  }));

  return r;
}
