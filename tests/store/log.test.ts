import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { waitFor } from "../helpers/wait.ts";
import { allHosts, allTokens, auditSince, openStore, revokedTokenIds, type Command, type OpenedStore } from "../../src/store/index.ts";
import { log as logTable, meta } from "../../src/store/schema.ts";
import { openSoloLog, type SoloLog } from "../../src/master/raft/solo.ts";

const dirs: string[] = [];
const stores: OpenedStore[] = [];
function fresh(): string {
  const d = mkdtempSync(join(tmpdir(), "lava-store-"));
  dirs.push(d);
  return d;
}
function open(dir: string) {
  const s = openStore(dir);
  stores.push(s);
  return s;
}
const logs: SoloLog[] = [];
function solo(s: OpenedStore, opts: Parameters<typeof openSoloLog>[1] = {}): SoloLog {
  const l = openSoloLog(s, opts);
  logs.push(l);
  return l;
}
function close(s: OpenedStore): void {
  for (const l of logs.splice(0)) l.stop();
  s.sqlite.close();
  stores.splice(stores.indexOf(s), 1);
}
afterEach(() => {
  for (const l of logs.splice(0)) l.stop();
  for (const s of stores.splice(0)) s.sqlite.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const by = { actor: "test", actorRole: "admin" as const };
const reg = (hostname: string, at = 1000): Command => ({ type: "host.register", at, ...by, hostname, hardware: { ncpus: 2, memBytes: 1e9, gpus: 0 }, version: "v" });

// Entry 1 is the no-op the one-voter leader commits on election (Raft §8): commands start at 2.
describe("command log (a one-voter Raft log on SQLite)", () => {
  test("the database is in WAL mode with synchronous FULL", () => {
    const s = open(fresh());
    expect((s.sqlite.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    expect((s.sqlite.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(2);
  });

  test("concurrent proposals are group-committed in order and each gets its own index", async () => {
    const s = open(fresh());
    const clog = solo(s);
    await clog.propose(reg("warm-up"));
    // Count transactions: each group commit is one write of lastApplied.
    let commits = 0;
    const orig = clog.storage.setAppliedInTx.bind(clog.storage);
    clog.storage.setAppliedInTx = (i: number) => {
      commits++;
      orig(i);
    };
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => clog.propose(reg(`h${i}`, i))));
    expect(results.map((r) => r.idx)).toEqual(Array.from({ length: 50 }, (_, i) => i + 3));
    expect(results.map((r) => (r.result.ok ? r.result.value?.hostId : null))).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    expect(commits).toBe(1);
    expect(clog.storage.lastApplied).toBe(52);
    expect(allHosts(s.db)).toHaveLength(51);
  });

  test("re-registering a hostname keeps its hostId; drain/resume/remove refuse unknown hosts deterministically", async () => {
    const clog = solo(open(fresh()));
    const a = await clog.propose(reg("a"));
    const again = await clog.propose(reg("a", 2000));
    expect(again.result).toEqual({ ok: true, value: { hostId: 1, created: false } });
    expect(a.result).toEqual({ ok: true, value: { hostId: 1, created: true } });
    const bad = await clog.propose({ type: "host.drain", at: 3000, ...by, hostname: "nope" });
    expect(bad.result).toMatchObject({ ok: false, error: "unknown_host" });
  });

  test("every entry writes exactly one audit row, refusals included", async () => {
    const s = open(fresh());
    const clog = solo(s);
    await clog.propose(reg("a"));
    await clog.propose({ type: "host.drain", at: 2000, ...by, hostname: "a", reason: "maintenance" });
    await clog.propose({ type: "host.resume", at: 3000, ...by, hostname: "zzz" });
    await clog.propose({ type: "audit.record", at: 4000, ...by, action: "exec", target: "a", result: "refused", detail: "not on the allowlist" });
    const rows = auditSince(s.db, {});
    expect(rows.map((r) => [r.logIdx, r.action, r.result.split(":")[0]])).toEqual([
      [2, "host.register", "ok"],
      [3, "host.drain", "ok"],
      [4, "host.resume", "refused"],
      [5, "exec", "refused"],
    ]);
    expect(auditSince(s.db, { sinceMs: 2500 }).map((r) => r.logIdx)).toEqual([4, 5]);
    expect(auditSince(s.db, { limit: 1 }).map((r) => r.logIdx)).toEqual([5]);
    // Paging forward from a cursor takes the oldest rows after it, so no row is skipped.
    const first = auditSince(s.db, { afterId: 0, limit: 2 });
    expect(first.map((r) => r.logIdx)).toEqual([2, 3]);
    expect(auditSince(s.db, { afterId: first[1]!.id, limit: 2 }).map((r) => r.logIdx)).toEqual([4, 5]);
    expect(auditSince(s.db, { afterId: first[1]!.id, limit: 2, action: "exec" }).map((r) => r.logIdx)).toEqual([5]);
  });

  test("state survives reopening; tokens and revocations persist", async () => {
    const dir = fresh();
    const s1 = open(dir);
    const c1 = solo(s1);
    await c1.propose(reg("a"));
    await c1.propose({ type: "token.create", at: 1, ...by, jti: "j1", role: "read", subject: "r", issuedAt: 1 });
    await c1.propose({ type: "token.revoke", at: 2, ...by, jti: "j1" });
    await c1.propose({ type: "token.revoke", at: 3, ...by, jti: "never-seen" });
    close(s1);
    const s2 = open(dir);
    const seen: number[] = [];
    const c2 = solo(s2, { onApplied: (a) => seen.push(a.idx) });
    // Nothing to apply again; the restarted leader's no-op is entry 6 of term 2.
    expect(seen).toEqual([]);
    expect(c2.storage.lastApplied).toBe(6);
    expect(c2.storage.term(6)).toBe(2);
    expect(allHosts(s2.db).map((h) => h.hostname)).toEqual(["a"]);
    expect(revokedTokenIds(s2.db).sort()).toEqual(["j1", "never-seen"]);
    expect(allTokens(s2.db).find((t) => t.jti === "j1")?.revokedAt).toBe(2);
    // New hosts continue the id sequence.
    expect((await c2.propose(reg("b"))).result).toMatchObject({ value: { hostId: 2 } });
  });

  test("entries committed but not applied (a crash between the two, or a Raft follower) are applied on restart, once", async () => {
    const dir = fresh();
    const s = open(dir);
    const c = solo(s);
    await c.propose(reg("a"));
    close(s);
    // Two committed entries the state machine has not applied yet, as a follower's log can hold.
    const s1 = open(dir);
    s1.db.insert(logTable).values([
      { idx: 3, term: 1, data: JSON.stringify(reg("b")) },
      { idx: 4, term: 1, data: JSON.stringify({ type: "host.drain", at: 5, ...by, hostname: "b" }) },
    ]).run();
    s1.db.update(meta).set({ value: "4" }).where(eq(meta.key, "raft.commit")).run();
    const seen: number[] = [];
    solo(s1, { onApplied: (a) => seen.push(a.idx) });
    await waitFor(() => seen.length === 2, 2000, "entries 3 and 4 applied");
    expect(seen).toEqual([3, 4]);
    expect(allHosts(s1.db).find((h) => h.hostname === "b")?.drained).toBe(true);
    close(s1);
    // And not again on the next start.
    const s2 = open(dir);
    const again: number[] = [];
    const c2 = solo(s2, { onApplied: (a) => again.push(a.idx) });
    await c2.propose(reg("c"));
    expect(again).toEqual([c2.storage.lastApplied]);
    expect(auditSince(s2.db, {}).map((r) => r.logIdx)).toEqual([2, 3, 4, c2.storage.lastApplied]);
  });

  test("a damaged database is refused at start-up with advice", () => {
    const dir = fresh();
    const s = open(dir);
    s.sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    s.sqlite.close();
    stores.pop();
    // Overwrite the middle of the file: header intact, pages garbage.
    const path = join(dir, "lava.db");
    const bytes = new Uint8Array(require("node:fs").readFileSync(path));
    for (let i = 4096; i < bytes.length; i++) bytes[i] = 0xa5;
    require("node:fs").writeFileSync(path, bytes);
    rmSync(join(dir, "lava.db-wal"), { force: true });
    rmSync(join(dir, "lava.db-shm"), { force: true });
    expect(() => open(dir)).toThrow(/damaged.*restore/i);
  });

  test("a full disk rejects the group with advice, loses nothing acknowledged, and recovers when space returns", async () => {
    const s = open(fresh());
    const clog = solo(s);
    await clog.propose(reg("before"));
    const pages = (s.sqlite.query("PRAGMA page_count").get() as { page_count: number }).page_count;
    // SQLite's own limit stands in for a full disk: writes past it fail with SQLITE_FULL.
    s.sqlite.exec(`PRAGMA max_page_count = ${pages}`);
    const big = Array.from({ length: 200 }, (_, i) => ({ ...reg(`full-${i}`), version: "x".repeat(90) }) as Command);
    const results = await Promise.allSettled(big.map((c) => clog.propose(c)));
    const rejected = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    expect(rejected.length).toBeGreaterThan(0);
    expect(String(rejected[0]!.reason.message)).toMatch(/full/);
    expect(clog.storage.lastApplied).toBe(clog.storage.lastIndex());
    s.sqlite.exec("PRAGMA max_page_count = 1073741823");
    // The node restarted from what is on disk and leads again; writes work.
    const after = await waitFor(() => clog.propose(reg("after")).catch(() => null), 3000, "a write after space returned");
    expect(after.idx).toBe(clog.storage.lastIndex());
    const names = allHosts(s.db).map((h) => h.hostname);
    expect(names).toContain("before");
    expect(names).toContain("after");
    // What was acknowledged is there; what was refused is not.
    const acked = results.flatMap((r, i) => (r.status === "fulfilled" ? [`full-${i}`] : []));
    for (const n of acked) expect(names).toContain(n);
    expect(names.length).toBe(2 + acked.length);
  });
});

