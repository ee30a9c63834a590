/**
 * Exactly-once writes (src/store/requests.ts): a command that repeats a
 * request id is answered with the first outcome and changes nothing; ids
 * are per actor, remembered for REQUEST_TTL_MS of log time and
 * REQUESTS_MAX entries, the same way on every replica, and after a
 * restart; a write that did not commit leaves no trace.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allTokens, applyEntry, auditSince, openStore, type Command, type OpenedStore } from "../../src/store/index.ts";
import { REQUEST_TTL_MS, REQUESTS_MAX } from "../../src/store/requests.ts";

const dirs: string[] = [];
const stores: OpenedStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.sqlite.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function fresh(): OpenedStore {
  const d = mkdtempSync(join(tmpdir(), "lava-requests-"));
  dirs.push(d);
  const s = openStore(d);
  stores.push(s);
  return s;
}

const token = (jti: string, at: number, requestId?: string, actor = "alice"): Command => ({
  type: "token.create",
  at,
  actor,
  actorRole: "admin",
  jti,
  role: "read",
  subject: `s-${jti}`,
  issuedAt: Math.floor(at / 1000),
  ...(requestId ? { requestId } : {}),
});

/** Applies like the driver: one transaction per entry. */
function apply(s: OpenedStore, idx: number, cmd: Command) {
  return s.sqlite.transaction(() => applyEntry(s.db, idx, cmd)).immediate();
}

test("a retry of an applied request (same id, same actor) is answered with the first outcome and applies nothing, also after a restart", () => {
  const s = fresh();
  const first = apply(s, 2, token("t1", 1000, "req-0001"));
  expect(first).toEqual({ ok: true, value: { jti: "t1", role: "read", subject: "s-t1", issuedAt: 1 } });
  // The retry was stamped again by the leader (another jti): still the first outcome, nothing added.
  const retry = apply(s, 3, token("t2", 2000, "req-0001"));
  expect(retry).toEqual({ ...first, replayOf: 2 });
  expect(allTokens(s.db).map((t) => t.jti)).toEqual(["t1"]);
  const rows = auditSince(s.db, { limit: 10 });
  expect(rows.map((a) => [a.target, a.requestId])).toEqual([["t1", "req-0001"]]);
  // The in-memory index is rebuilt from the audit table after a restart.
  const dir = s.path.replace(/\/lava\.db$/, "");
  s.sqlite.close();
  stores.splice(stores.indexOf(s), 1);
  const again = openStore(dir);
  stores.push(again);
  expect(apply(again, 4, token("t3", 3000, "req-0001"))).toEqual({ ...first, replayOf: 2 });
});

test("a refusal is an outcome too: the retry is refused the same way", () => {
  const s = fresh();
  apply(s, 2, token("dup", 1000));
  const refused = apply(s, 3, token("dup", 1000, "req-0002"));
  expect(refused.ok).toBe(false);
  expect(apply(s, 4, token("dup", 1000, "req-0002"))).toEqual({ ...refused, replayOf: 3 });
});

test("ids are per actor, and writes without an id are never deduplicated", () => {
  const s = fresh();
  apply(s, 2, token("a1", 1000, "shared-id", "alice"));
  expect(apply(s, 3, token("b1", 1000, "shared-id", "bob")).replayOf).toBeUndefined();
  apply(s, 4, token("n1", 1000));
  expect(apply(s, 5, token("n2", 1000)).replayOf).toBeUndefined();
  expect(allTokens(s.db).map((t) => t.jti).sort()).toEqual(["a1", "b1", "n1", "n2"]);
});

test("an id is forgotten after REQUEST_TTL_MS of log time (the leader's stamps), then applied as a new write", () => {
  const s = fresh();
  apply(s, 2, token("old", 1000, "req-ttl-1"));
  expect(apply(s, 3, token("x", 1000 + REQUEST_TTL_MS - 1, "req-ttl-1")).replayOf).toBe(2);
  const late = apply(s, 4, token("new", 1000 + REQUEST_TTL_MS + 1, "req-ttl-1"));
  expect(late).toMatchObject({ ok: true, value: { jti: "new" } });
  expect(late.replayOf).toBeUndefined();
  // From now on the second application is the one retries get.
  expect(apply(s, 5, token("y", 1000 + REQUEST_TTL_MS + 2, "req-ttl-1")).replayOf).toBe(4);
});

test("at most REQUESTS_MAX entries back are remembered", () => {
  const s = fresh();
  apply(s, 2, token("first", 1000, "req-max-1"));
  expect(apply(s, 1 + REQUESTS_MAX, token("x", 2000, "req-max-1")).replayOf).toBe(2);
  expect(apply(s, 2 + REQUESTS_MAX, token("y", 2000, "req-max-1")).replayOf).toBeUndefined();
  expect(apply(s, 3 + REQUESTS_MAX, token("z", 2000, "req-max-1")).replayOf).toBe(2 + REQUESTS_MAX);
});

test("a write that did not commit leaves no trace: its id is not taken for an applied one", () => {
  const s = fresh();
  try {
    s.sqlite.transaction(() => {
      applyEntry(s.db, 2, token("lost", 1000, "req-rolled-back"));
      throw new Error("the disk is full");
    }).immediate();
  } catch {
    /* rolled back */
  }
  expect(apply(s, 2, token("kept", 1000, "req-rolled-back"))).toMatchObject({ ok: true, value: { jti: "kept" } });
  expect(apply(s, 3, token("other", 1000, "req-rolled-back")).replayOf).toBe(2);
});
