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
 * than that is applied as a new write.
 */
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { ApplyResult } from "./commands.ts";
import { statements } from "./prepared.ts";

/** How long a request id is remembered (lava ctl gives up on a write long before). */
export const REQUEST_TTL_MS = 60 * 60 * 1000;
/** At most this many log entries back: the table stays bounded whatever the rate of writes. */
export const REQUESTS_MAX = 100_000;

/** The first outcome of `requestId` from `actor`, if it is still remembered (after forgetting what expired as of entry `idx` at `at`). */
export function firstOutcome(tx: BunSQLiteDatabase, idx: number, at: number, actor: string, requestId: string): { idx: number; result: ApplyResult } | undefined {
  const st = statements(tx);
  st.requestsExpireAt.run({ before: at - REQUEST_TTL_MS });
  st.requestsExpireIdx.run({ upTo: idx - REQUESTS_MAX });
  const row = st.requestGet.get({ actor, requestId });
  return row ? { idx: row.logIdx, result: JSON.parse(row.result) as ApplyResult } : undefined;
}

export function recordOutcome(tx: BunSQLiteDatabase, idx: number, at: number, actor: string, requestId: string, result: ApplyResult): void {
  statements(tx).requestInsert.run({ actor, requestId, logIdx: idx, at, result: JSON.stringify(result) });
}
