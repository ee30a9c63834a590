/**
 * Exactly-once writes (Raft §8, "client interaction"): a client gives each
 * write a request id (`x-lava-request-id`, docs/api.md) and sends every
 * retry with the same id. The command carries it into the log; applying
 * it records the first outcome, and a later command with the same actor
 * and id is answered with that outcome instead of being applied again.
 * So a retry after an unknown outcome (a commit timeout, a leader that
 * died before answering, a connection that dropped) cannot apply a write
 * twice.
 *
 * Bounded and deterministic: an id is remembered for REQUEST_TTL_MS by
 * the time the leader stamped into the log (never a replica's clock), and
 * for at most REQUESTS_MAX log entries; both are constants, not settings,
 * because every replica must forget an id at the same entry. A retry later
 * than that is applied as a new write. One lookup and one insert per write
 * that carries an id; expired rows are deleted in batches.
 */
import type { Database } from "bun:sqlite";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { ApplyResult } from "./commands.ts";
import { statements } from "./prepared.ts";

/** How long a request id is remembered (lava ctl gives up on a write long before). */
export const REQUEST_TTL_MS = 60 * 60 * 1000;
/** At most this many log entries back: the table stays bounded whatever the rate of writes. */
export const REQUESTS_MAX = 100_000;
/** Expired rows are deleted every this many entries (at entries whose index is a multiple of it): in batches, not one per write. */
export const REQUESTS_EXPIRE_EVERY = 1024;

/**
 * Where each remembered id's row is: "<actor> <id>" → log index, in
 * memory. The table is keyed by log index so that rows are appended in
 * order; an index on random ids would dirty a page of its own per write
 * (measured: half the command log's throughput). Built from the table on
 * first use, kept in step by recordOutcome and expireRequests, dropped when
 * the table is replaced (forgetRequestIndex). An entry whose row is gone
 * (a transaction that did not commit) is checked against the table and
 * ignored.
 */
const indexes = new WeakMap<BunSQLiteDatabase, Map<string, number>>();

const keyOf = (actor: string, requestId: string) => `${actor} ${requestId}`;

function index(tx: BunSQLiteDatabase): Map<string, number> {
  let m = indexes.get(tx);
  if (!m) {
    m = new Map();
    for (const r of statements(tx).requestKeys.all()) m.set(keyOf(r.actor, r.requestId), r.logIdx);
    indexes.set(tx, m);
  }
  return m;
}

/** The table was replaced (a snapshot installed): the in-memory index is rebuilt on next use. */
export function forgetRequestIndex(db: BunSQLiteDatabase): void {
  indexes.delete(db);
}

/**
 * The insert, as a bun:sqlite statement: on the path of every write that
 * carries an id, where Drizzle's placeholder mapping cost a third of it.
 */
function insertStatement(tx: BunSQLiteDatabase) {
  return (tx as BunSQLiteDatabase & { $client: Database }).$client.query<unknown, [number, string, string, number, string]>("INSERT INTO requests (log_idx, actor, request_id, at, result) VALUES (?, ?, ?, ?, ?)");
}

/**
 * The first outcome of `requestId` from `actor` while it is remembered (as
 * of entry `idx`, stamped `at`), else undefined. Rows out of the window
 * are ignored here and deleted in batches (expireRequests), so what a
 * lookup answers never depends on when a batch ran.
 */
export function firstOutcome(tx: BunSQLiteDatabase, idx: number, at: number, actor: string, requestId: string): { idx: number; result: ApplyResult } | undefined {
  const where = index(tx).get(keyOf(actor, requestId));
  if (where === undefined || where <= idx - REQUESTS_MAX) return undefined;
  const row = statements(tx).requestAt.get({ logIdx: where });
  if (!row || row.actor !== actor || row.requestId !== requestId || row.at < at - REQUEST_TTL_MS) return undefined;
  return { idx: where, result: JSON.parse(row.result) as ApplyResult };
}

export function recordOutcome(tx: BunSQLiteDatabase, idx: number, at: number, actor: string, requestId: string, result: ApplyResult): void {
  insertStatement(tx).run(idx, actor, requestId, at, JSON.stringify(result));
  // Deleted first, so that the map's order stays the log's (an id applied again after it expired moves to the end).
  const m = index(tx);
  const k = keyOf(actor, requestId);
  m.delete(k);
  m.set(k, idx);
}

/**
 * Deletes the rows out of the window, when entry `idx` (stamped `at`) is a
 * multiple of REQUESTS_EXPIRE_EVERY: deterministic (every replica does it
 * at the same entry), and the table holds at most REQUESTS_MAX rows plus a
 * batch or two.
 */
export function expireRequests(tx: BunSQLiteDatabase, idx: number, at: number): void {
  if (idx % REQUESTS_EXPIRE_EVERY !== 0) return;
  const st = statements(tx);
  // Rows come in log order and, but for clock differences between leaders, in time order: the expired prefix goes.
  const fresh = st.requestFirstFresh.get({ since: at - REQUEST_TTL_MS });
  const before = Math.max(idx - REQUESTS_MAX + 1, fresh ? fresh.logIdx : idx + 1);
  st.requestsExpireIdx.run({ upTo: idx - REQUESTS_MAX });
  st.requestsExpireBefore.run({ before });
  // Their index entries go too (map order is the order they were recorded in, i.e. log order).
  const m = index(tx);
  for (const [k, i] of m) {
    if (i >= before) break;
    m.delete(k);
  }
}
