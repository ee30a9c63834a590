/**
 * Exactly-once writes (Raft §8, "client interaction"): a client gives each
 * write a request id (`x-lava-request-id`, docs/api.md) and sends every
 * retry with the same id. The command carries it into the log; applying
 * it records the first outcome in the request's audit row (`request_id`,
 * `outcome`), and a later command with the same actor and id is answered
 * with that outcome instead of being applied again. So a retry after an
 * unknown outcome (a commit timeout, a leader that died before answering,
 * a connection that dropped) cannot apply a write twice.
 *
 * Bounded and deterministic: an id is remembered for REQUEST_TTL_MS by
 * the time the leader stamped into the log (never a replica's clock), and
 * for at most REQUESTS_MAX log entries; both are constants, not settings,
 * because every replica must forget an id at the same entry. A retry later
 * than that is applied as a new write.
 *
 * The outcome goes into the audit row every request writes anyway: a row
 * of its own, in a table of its own, dirtied a page more per transaction
 * on every master (measured: 12 µs of CPU per write and master).
 */
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { ApplyResult } from "./commands.ts";
import { statements } from "./prepared.ts";

/** How long a request id is remembered (lava ctl gives up on a write long before). */
export const REQUEST_TTL_MS = 60 * 60 * 1000;
/** At most this many log entries back: what the in-memory index holds stays bounded whatever the rate of writes. */
export const REQUESTS_MAX = 100_000;

/**
 * Where each remembered id's audit row is: "<actor> <id>" → log index, in
 * memory, oldest first (an index on random ids in SQLite would dirty a
 * page of its own per write). Built from the audit table on first use,
 * kept in step by noteRequest, dropped when the table is replaced
 * (forgetRequestIndex). An entry whose row is not there (a transaction
 * that did not commit) is checked against the table and ignored.
 */
const indexes = new WeakMap<BunSQLiteDatabase, Map<string, number>>();

const keyOf = (actor: string, requestId: string) => `${actor} ${requestId}`;

function index(tx: BunSQLiteDatabase): Map<string, number> {
  let m = indexes.get(tx);
  if (!m) {
    m = new Map();
    const st = statements(tx);
    const last = st.lastAuditIdx.get()?.m ?? 0;
    for (const r of st.requestKeys.all({ after: last - REQUESTS_MAX })) m.set(keyOf(r.actor, r.requestId!), r.logIdx);
    indexes.set(tx, m);
  }
  return m;
}

/** The audit table was replaced (a snapshot installed): the in-memory index is rebuilt on next use. */
export function forgetRequestIndex(db: BunSQLiteDatabase): void {
  indexes.delete(db);
}

/**
 * The first outcome of `requestId` from `actor` while it is remembered (as
 * of entry `idx`, stamped `at`), else undefined.
 */
export function firstOutcome(tx: BunSQLiteDatabase, idx: number, at: number, actor: string, requestId: string): { idx: number; result: ApplyResult } | undefined {
  const m = index(tx);
  // Entries out of the count window go first (oldest first: the map's order is the log's).
  for (const [k, i] of m) {
    if (i > idx - REQUESTS_MAX) break;
    m.delete(k);
  }
  const where = m.get(keyOf(actor, requestId));
  if (where === undefined) return undefined;
  const row = statements(tx).requestOutcome.get({ logIdx: where });
  if (!row || row.actor !== actor || row.requestId !== requestId || row.outcome === null || row.at < at - REQUEST_TTL_MS) return undefined;
  return { idx: where, result: JSON.parse(row.outcome) as ApplyResult };
}

/** Entry `idx`'s audit row now holds `requestId`'s outcome. */
export function noteRequest(tx: BunSQLiteDatabase, idx: number, actor: string, requestId: string): void {
  const m = index(tx);
  const k = keyOf(actor, requestId);
  // Deleted first, so that the map's order stays the log's (an id applied again after it expired moves to the end).
  m.delete(k);
  m.set(k, idx);
}
