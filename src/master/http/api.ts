/**
 * The master's HTTP API (docs/api.md): queries answered from the in-memory
 * host table, token minting, health and metrics.
 */
import * as v from "valibot";
import { newTokenId, RoleSchema, signToken, type Claims } from "../../auth/index.ts";
import { COMMIT, VERSION } from "../../version.ts";
import { countStates } from "../hosts/status.ts";
import type { MasterContext } from "../context.ts";
import { hostView, loadView } from "../views.ts";
import { HttpError, json } from "./errors.ts";
import { renderMetrics } from "./metrics.ts";
import { readJson, Router } from "./router.ts";

const TokenRequestSchema = v.strictObject({
  role: RoleSchema,
  subject: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  host: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(255))),
  ttlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10 * 365 * 86400))),
});

export function parseBody<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, body);
  if (!r.success) throw new HttpError(400, "bad_request", v.summarize(r.issues));
  return r.output;
}

export function buildRouter(ctx: MasterContext): Router {
  const r = new Router();


  r.on("GET", "/healthz", () => json({ ok: true, version: VERSION }));

  r.on("GET", "/metrics", () => {
    const body = renderMetrics({
      nowMs: ctx.nowMs(),
      policy: ctx.policy,
      hosts: ctx.hosts.values(),
      ingest: ctx.ingest.counters,
      sessions: ctx.sessions.count,
      kernel: ctx.kernelDrops(),
      uptimeMs: ctx.nowMs() - ctx.startedMs,
    });
    return new Response(body, { headers: { "content-type": "text/plain; version=0.0.4" } });
  });

  r.on("GET", "/api/v1/load", (req, _p, url) => {
    ctx.gate.check(req, url, "read");
    const now = ctx.nowMs();
    return json(ctx.hosts.list().map((h) => loadView(h, now, ctx.policy)));
  });

  r.on("GET", "/api/v1/hosts", (req, _p, url) => {
    ctx.gate.check(req, url, "read");
    const now = ctx.nowMs();
    return json(ctx.hosts.list().map((h) => hostView(h, now, ctx.policy)));
  });

  r.on("GET", "/api/v1/hosts/:name", (req, p, url) => {
    ctx.gate.check(req, url, "read");
    const h = ctx.hosts.byHostname(p.name!);
    if (!h) throw new HttpError(404, "unknown_host", `no host named '${p.name}' is registered (see 'lava ctl hosts')`);
    const now = ctx.nowMs();
    return json({ ...hostView(h, now, ctx.policy), load: loadView(h, now, ctx.policy) });
  });

  r.on("GET", "/api/v1/status", (req, _p, url) => {
    ctx.gate.check(req, url, "read");
    const now = ctx.nowMs();
    const k = ctx.kernelDrops();
    return json({
      master: { version: VERSION, commit: COMMIT, nodeId: ctx.nodeId, uptimeMs: now - ctx.startedMs, insecure: ctx.config.insecure, advertise: ctx.advertise, udpPort: ctx.udpPort },
      ingest: {
        accepted: ctx.ingest.counters.accepted,
        dropped: { ...ctx.ingest.counters.dropped },
        kernel: k ? { socketDrops: k.socketDrops, rcvbufErrors: k.rcvbufErrors, inErrors: k.inErrors } : null,
      },
      hosts: countStates(ctx.hosts.values(), now, ctx.policy),
      sessions: ctx.sessions.count,
    });
  });

  r.on("POST", "/api/v1/tokens", async (req, _p, url) => {
    const caller = ctx.gate.check(req, url, "admin");
    const body = parseBody(TokenRequestSchema, await readJson(req));
    const nowSec = Math.floor(ctx.nowMs() / 1000);
    const claims: Claims = {
      sub: body.subject ?? `${body.role}-by-${caller.sub}`,
      role: body.role,
      jti: newTokenId(),
      iat: nowSec,
      ...(body.ttlSeconds ? { exp: nowSec + body.ttlSeconds } : {}),
      ...(body.host ? { host: body.host } : {}),
    };
    const token = signToken(claims, ctx.jwtKey);
    return json({ token, jti: claims.jti, role: claims.role, subject: claims.sub, expiresAt: claims.exp ? new Date(claims.exp * 1000).toISOString() : null }, 201);
  });

  return r;
}
