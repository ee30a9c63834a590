/**
 * `GET /api/v1/load` options (docs/api.md): `fields=host,status,load1`
 * keeps only those keys of each row, `offset` and `limit` page through the
 * rows (sorted by host name; the total is in `x-total-count`). Without them
 * the answer is the whole table as design §8 fixes it. Pure.
 */
import { REPORT_FIELDS } from "../../wire/index.ts";
import { HttpError } from "./errors.ts";

export const LOAD_FIELDS: readonly string[] = ["host", "hostId", "status", "ageMs", ...REPORT_FIELDS, "lossPct", "reportsLost", "reportsReceived"];

export interface LoadQuery {
  fields: string[] | null;
  offset: number;
  limit: number | null;
}

export function parseLoadQuery(q: URLSearchParams): LoadQuery {
  const bad = (detail: string) => new HttpError(400, "bad_request", detail);
  let fields: string[] | null = null;
  const raw = q.get("fields");
  if (raw !== null && raw !== "") {
    fields = [...new Set(raw.split(",").map((s) => s.trim()).filter(Boolean))];
    const unknown = fields.filter((f) => !LOAD_FIELDS.includes(f));
    if (unknown.length) throw bad(`fields: some of ${LOAD_FIELDS.join(",")}; unknown: ${unknown.slice(0, 5).join(",").slice(0, 200)}`);
  }
  const int = (name: string, min: number, max: number): number | null => {
    const v = q.get(name);
    if (v === null || v === "") return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw bad(`${name}: a whole number from ${min} to ${max}; got '${v.slice(0, 50)}'`);
    return n;
  };
  return { fields, offset: int("offset", 0, 10_000_000) ?? 0, limit: int("limit", 1, 100_000) };
}

/** The page of `rows` the query asks for (all of them without offset and limit). */
export function pageOf<T>(rows: readonly T[], q: LoadQuery): readonly T[] {
  return q.offset || q.limit !== null ? rows.slice(q.offset, q.limit === null ? undefined : q.offset + q.limit) : rows;
}

/** Each row cut to the fields asked for (the rows as they are without `fields`). */
export function pickFields(rows: readonly Record<string, unknown>[], q: LoadQuery): readonly Record<string, unknown>[] {
  const f = q.fields;
  if (!f) return rows;
  return rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const k of f) out[k] = r[k];
    return out;
  });
}
