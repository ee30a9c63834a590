/** Reads of durable state (hosts, tokens, audit). Writes go through the command log only. */
import { and, count, desc, eq, getTableColumns, gt, gte, inArray, isNotNull, isNull, lte, max, sql, sum } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { audit, hosts, jobArrays, jobAttempts, jobHistory, jobs, tokens } from "./schema.ts";
import { statements } from "./prepared.ts";

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
  return statements(db).jobById.get({ id });
}

/** Jobs not yet ended: the master keeps these in memory for scheduling. */
export function activeJobs(db: BunSQLiteDatabase): JobRow[] {
  return db.select().from(jobs).where(inArray(jobs.state, ["PEND", "RUN"])).orderBy(jobs.id).all();
}

export interface JobFilter {
  states?: string[];
  hostname?: string;
  queue?: string;
  /** submittedBy. */
  user?: string;
  limit?: number;
  /** Only the elements of this array. */
  arrayId?: number;
  /** Leave array elements out (their arrays are listed folded instead). */
  noElements?: boolean;
}

export function listJobs(db: BunSQLiteDatabase, f: JobFilter): Omit<JobRow, "stdout" | "stderr">[] {
  const where = and(
    f.states && f.states.length ? inArray(jobs.state, f.states) : undefined,
    f.hostname ? eq(jobs.hostname, f.hostname) : undefined,
    f.queue ? eq(jobs.queue, f.queue) : undefined,
    f.user ? eq(jobs.submittedBy, f.user) : undefined,
    f.arrayId !== undefined ? eq(jobs.arrayId, f.arrayId) : undefined,
    f.noElements ? isNull(jobs.arrayId) : undefined,
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

export type ArrayRow = typeof jobArrays.$inferSelect;
export type AttemptRow = typeof jobAttempts.$inferSelect;

export function arrayById(db: BunSQLiteDatabase, id: number): ArrayRow | undefined {
  return db.select().from(jobArrays).where(eq(jobArrays.id, id)).get();
}

/** Arrays for a folded listing: those with an element matching the filter (state, host, queue, user), newest `limit`. */
export function listArrays(db: BunSQLiteDatabase, f: JobFilter): ArrayRow[] {
  const elementWhere = and(
    isNotNull(jobs.arrayId),
    f.states && f.states.length ? inArray(jobs.state, f.states) : undefined,
    f.hostname ? eq(jobs.hostname, f.hostname) : undefined,
  );
  const where = and(
    inArray(jobArrays.id, db.selectDistinct({ id: jobs.arrayId }).from(jobs).where(elementWhere)),
    f.queue ? eq(jobArrays.queue, f.queue) : undefined,
    f.user ? eq(jobArrays.submittedBy, f.user) : undefined,
  );
  return db
    .select()
    .from(jobArrays)
    .where(where)
    .orderBy(desc(jobArrays.id))
    .limit(f.limit ?? 1000)
    .all()
    .reverse();
}

/** Elements per state of each array named. */
export function arrayCounts(db: BunSQLiteDatabase, ids: readonly number[]): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  if (ids.length === 0) return out;
  for (const id of ids) out.set(id, { PEND: 0, RUN: 0, DONE: 0, EXIT: 0, KILLED: 0, LOST: 0 });
  const rows = db
    .select({ arrayId: jobs.arrayId, state: jobs.state, n: count() })
    .from(jobs)
    .where(inArray(jobs.arrayId, [...ids]))
    .groupBy(jobs.arrayId, jobs.state)
    .all();
  for (const r of rows) out.get(r.arrayId!)![r.state] = r.n;
  return out;
}

/** The element of array `arrayId` with index `index`. */
export function arrayElement(db: BunSQLiteDatabase, arrayId: number, index: number): JobRow | undefined {
  return db.select().from(jobs).where(and(eq(jobs.arrayId, arrayId), eq(jobs.arrayIndex, index))).get();
}

/** Final state of each named job (jobs still PEND or RUN are left out; unknown ids too). */
export function finalStates(db: BunSQLiteDatabase, ids: readonly number[]): Map<number, string> {
  const out = new Map<number, string>();
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    for (const r of db.select({ id: jobs.id, state: jobs.state }).from(jobs).where(inArray(jobs.id, [...part])).all()) out.set(r.id, r.state);
  }
  return out;
}

export function attemptsOf(db: BunSQLiteDatabase, jobId: number): AttemptRow[] {
  return db.select().from(jobAttempts).where(eq(jobAttempts.jobId, jobId)).orderBy(jobAttempts.attempt).all();
}

export interface AcctRow {
  user: string;
  queue: string;
  jobs: number;
  attempts: number;
  done: number;
  exit: number;
  killed: number;
  lost: number;
  elapsedMs: number;
  cpuUserMs: number;
  cpuSysMs: number;
  maxRssBytes: number | null;
}

/** Attempts that ended since `sinceMs`, summed by the submitting user and the queue (`lava ctl acct`). */
export function accounting(db: BunSQLiteDatabase, f: { sinceMs: number; user?: string; queue?: string }): AcctRow[] {
  const n = (state: string) => sql<number>`sum(case when ${jobAttempts.state} = ${state} then 1 else 0 end)`;
  const rows = db
    .select({
      user: jobs.submittedBy,
      queue: jobs.queue,
      jobs: sql<number>`count(distinct ${jobAttempts.jobId})`,
      attempts: count(),
      done: n("DONE"),
      exit: n("EXIT"),
      killed: n("KILLED"),
      lost: n("LOST"),
      elapsedMs: sum(jobAttempts.elapsedMs),
      cpuUserMs: sum(jobAttempts.cpuUserMs),
      cpuSysMs: sum(jobAttempts.cpuSysMs),
      maxRssBytes: max(jobAttempts.maxRssBytes),
    })
    .from(jobAttempts)
    .innerJoin(jobs, eq(jobs.id, jobAttempts.jobId))
    .where(and(gte(jobAttempts.finishedAt, f.sinceMs), f.user ? eq(jobs.submittedBy, f.user) : undefined, f.queue ? eq(jobs.queue, f.queue) : undefined))
    .groupBy(jobs.submittedBy, jobs.queue)
    .orderBy(jobs.submittedBy, jobs.queue)
    .all();
  return rows.map((r) => ({
    ...r,
    elapsedMs: Number(r.elapsedMs ?? 0),
    cpuUserMs: Number(r.cpuUserMs ?? 0),
    cpuSysMs: Number(r.cpuSysMs ?? 0),
    maxRssBytes: r.maxRssBytes ?? null,
  }));
}

/** Whether any job ran (or was placed) on this host name: `--host` of a removed host still lists its past jobs. */
export function jobsRanOn(db: BunSQLiteDatabase, hostname: string): boolean {
  return db.select({ id: jobs.id }).from(jobs).where(eq(jobs.hostname, hostname)).limit(1).get() !== undefined;
}
