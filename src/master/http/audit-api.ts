/** GET /api/v1/audit (docs/api.md "Audit"; admin): the audit log, filtered and paged. */
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { parseWhen } from "../../control/when.ts";
import { auditSince } from "../../store/index.ts";
import type { TokenGate } from "../tokens.ts";
import { HttpError, json } from "./errors.ts";
import { linearizable, type Router } from "./router.ts";

export interface AuditRouteDeps {
  gate: Pick<TokenGate, "check">;
  db: BunSQLiteDatabase;
  barrier: () => Promise<void>;
  nowMs: () => number;
}

export function auditRoutes(r: Router, deps: AuditRouteDeps): void {
  r.on("GET", "/api/v1/audit", linearizable(deps.barrier, (req, _p, url) => {
    deps.gate.check(req, url, "admin");
    const q = url.searchParams;
    const now = deps.nowMs();
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
    const rows = auditSince(deps.db, {
      ...(since !== undefined ? { sinceMs: since } : {}),
      ...(until !== undefined ? { untilMs: until } : {}),
      limit,
      ...(action ? { action } : {}),
      ...(after !== undefined ? { afterId: after } : {}),
    });
    // The outcome a request id is answered with on a retry is the state machine's, not the reader's.
    return json(rows.map(({ outcome: _outcome, ...a }) => ({ ...a, at: new Date(a.at).toISOString() })));
  }));
}
