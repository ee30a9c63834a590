/** Reads of durable state (hosts, tokens, audit). Writes go through the command log only. */
import { and, count, desc, eq, getTableColumns, gt, gte, inArray, isNotNull, lte } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { audit, hosts, jobHistory, jobs, tokens } from "./schema.ts";

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

export function auditSince(db: BunSQLiteDatabase, opts: { sinceMs?: number; untilMs?: number; limit?: number; action?: string; afterId?: number }): AuditRow[] {
  const where = and(
    opts.afterId !== undefined ? gt(audit.id, opts.afterId) : undefined,
    opts.sinceMs !== undefined ? gte(audit.at, opts.sinceMs) : undefined,
    opts.untilMs !== undefined ? lte(audit.at, opts.untilMs) : undefined,
    opts.action !== undefined ? eq(audit.action, opts.action) : undefined,
  );
  // Paging forward from a cursor: the oldest rows after it, so a reader never skips any.
  if (opts.afterId !== undefined) return db.select().from(audit).where(where).orderBy(audit.id).limit(opts.limit ?? 1000).all();
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

export type JobRow = typeof jobs.$inferSelect;
export type JobHistoryRow = typeof jobHistory.$inferSelect;

export function jobById(db: BunSQLiteDatabase, id: number): JobRow | undefined {
  return db.select().from(jobs).where(eq(jobs.id, id)).get();
}

/** Jobs not yet ended: the master keeps these in memory for scheduling. */
export function activeJobs(db: BunSQLiteDatabase): JobRow[] {
  return db.select().from(jobs).where(inArray(jobs.state, ["PEND", "RUN"])).orderBy(jobs.id).all();
}

export function listJobs(db: BunSQLiteDatabase, f: { states?: string[]; hostname?: string; queue?: string; limit?: number }): Omit<JobRow, "stdout" | "stderr">[] {
  const where = and(
    f.states && f.states.length ? inArray(jobs.state, f.states) : undefined,
    f.hostname ? eq(jobs.hostname, f.hostname) : undefined,
    f.queue ? eq(jobs.queue, f.queue) : undefined,
  );
  const { stdout: _o, stderr: _e, ...cols } = getTableColumns(jobs);
  // The newest `limit`, returned in id order.
  return db
    .select(cols)
    .from(jobs)
    .where(where)
    .orderBy(desc(jobs.id))
    .limit(f.limit ?? 1000)
    .all()
    .reverse();
}

export function jobHistoryOf(db: BunSQLiteDatabase, jobId: number): JobHistoryRow[] {
  return db.select().from(jobHistory).where(eq(jobHistory.jobId, jobId)).orderBy(jobHistory.id).all();
}

/** Jobs per state, every state listed. */
export function jobCounts(db: BunSQLiteDatabase): Record<string, number> {
  const out: Record<string, number> = { PEND: 0, RUN: 0, DONE: 0, EXIT: 0, KILLED: 0, LOST: 0 };
  for (const r of db.select({ state: jobs.state, n: count() }).from(jobs).groupBy(jobs.state).all()) out[r.state] = r.n;
  return out;
}
