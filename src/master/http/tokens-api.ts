/**
 * Tokens (docs/api.md "Tokens"; admin): mint one (its record goes through
 * the log; the token itself is a JWT on the cluster secret), list them,
 * revoke one.
 */
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as v from "valibot";
import { newTokenId, RoleSchema, signToken, type Claims } from "../../auth/index.ts";
import { allTokens } from "../../store/index.ts";
import type { TokenGate } from "../tokens.ts";
import type { ChangeRoute } from "./change.ts";
import { json } from "./errors.ts";
import { linearizable, parseBody, readJson, type Router } from "./router.ts";

export interface TokenRouteDeps {
  gate: Pick<TokenGate, "check">;
  /** The key tokens are signed with (derived from the cluster secret). */
  jwtKey: Uint8Array;
  db: BunSQLiteDatabase;
  barrier: () => Promise<void>;
  nowMs: () => number;
}

const TokenRequestSchema = v.strictObject({
  role: RoleSchema,
  subject: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  host: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(255))),
  ttlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10 * 365 * 86400))),
});

export function tokenRoutes(r: Router, deps: TokenRouteDeps, change: ChangeRoute): void {
  change("POST", "/api/v1/tokens", "token.create", () => null, async (req, _p, _url, c) => {
    const body = parseBody(TokenRequestSchema, await readJson(req));
    const nowSec = Math.floor(deps.nowMs() / 1000);
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
    const token = signToken(claims, deps.jwtKey);
    return json(
      { token, jti: claims.jti, role: claims.role, subject: claims.sub, host: claims.host ?? null, expiresAt: claims.exp ? new Date(claims.exp * 1000).toISOString() : null },
      201,
    );
  });

  r.on("GET", "/api/v1/tokens", linearizable(deps.barrier, (req, _p, url) => {
    deps.gate.check(req, url, "admin");
    const iso = (sec: number | null) => (sec ? new Date(sec * 1000).toISOString() : null);
    return json(
      allTokens(deps.db).map((t) => ({
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
}
