/** Reads of durable state (hosts, tokens, audit). Writes go through the command log only. */
import { and, desc, eq, gte, isNotNull, lte } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { audit, hosts, tokens } from "./schema.ts";

export type HostRow = typeof hosts.$inferSelect;
export type TokenRow = typeof tokens.$inferSelect;
export type AuditRow = typeof audit.$inferSelect;

export function allHosts(db: BunSQLiteDatabase): HostRow[] {
  return db.select().from(hosts).orderBy(hosts.hostId).all();
}

export function allTokens(db: BunSQLiteDatabase): TokenRow[] {
  return db.select().from(tokens).orderBy(tokens.issuedAt).all();
}

export function revokedTokenIds(db: BunSQLiteDatabase): string[] {
  return db.select({ jti: tokens.jti }).from(tokens).where(isNotNull(tokens.revokedAt)).all().map((r) => r.jti);
}

export function auditSince(db: BunSQLiteDatabase, opts: { sinceMs?: number; untilMs?: number; limit?: number; action?: string }): AuditRow[] {
  const where = and(
    opts.sinceMs !== undefined ? gte(audit.at, opts.sinceMs) : undefined,
    opts.untilMs !== undefined ? lte(audit.at, opts.untilMs) : undefined,
    opts.action !== undefined ? eq(audit.action, opts.action) : undefined,
  );
  // Newest first for the limit, then returned oldest first (like a log).
  return db
    .select()
    .from(audit)
    .where(where)
    .orderBy(desc(audit.id))
    .limit(opts.limit ?? 1000)
    .all()
    .reverse();
}
