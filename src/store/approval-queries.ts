/** Reads of held requests (docs/api.md "Approvals"). Writes go through the command log only. */
import { and, desc, eq, lte } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { approvals } from "./schema.ts";

export type ApprovalRow = typeof approvals.$inferSelect;

export function approvalById(db: BunSQLiteDatabase, id: number): ApprovalRow | undefined {
  return db.select().from(approvals).where(eq(approvals.id, id)).get();
}

/** Pending requests, oldest first; with `all`, the newest `limit` of every state, oldest first. */
export function listApprovals(db: BunSQLiteDatabase, opts: { all?: boolean; limit?: number } = {}): ApprovalRow[] {
  const limit = opts.limit ?? 1000;
  if (!opts.all) return db.select().from(approvals).where(eq(approvals.state, "pending")).orderBy(approvals.id).limit(limit).all();
  return db.select().from(approvals).orderBy(desc(approvals.id)).limit(limit).all().reverse();
}

/** Ids of pending requests whose expiry has passed at `nowMs` (the leader expires them through the log). */
export function expiredApprovalIds(db: BunSQLiteDatabase, nowMs: number, limit = 100): number[] {
  return db
    .select({ id: approvals.id })
    .from(approvals)
    .where(and(eq(approvals.state, "pending"), lte(approvals.expiresAt, nowMs)))
    .orderBy(approvals.id)
    .limit(limit)
    .all()
    .map((r) => r.id);
}
