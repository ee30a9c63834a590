import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../../src/raft/types.ts";
import { allTokens, applyEntry, checkSnapshotFile, openStore, SqliteRaftStorage, type Command, type OpenedStore } from "../../src/store/index.ts";

const dirs: string[] = [];
const stores: OpenedStore[] = [];
function fresh(): { dir: string; store: OpenedStore } {
  const dir = mkdtempSync(join(tmpdir(), "lava-raftstore-"));
  dirs.push(dir);
  const store = openStore(dir);
  stores.push(store);
  return { dir, store };
}
afterEach(() => {
  for (const s of stores.splice(0)) s.sqlite.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const e = (index: number, term: number, data = ""): Entry => ({ index, term, type: "normal", data });
const token = (jti: string): Command => ({ type: "token.create", at: 1, actor: "t", actorRole: "admin", jti, role: "read", subject: jti, issuedAt: 1 });
const sync = (s: OpenedStore) => (s.sqlite.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous;

/** Applies entries [from, to] of the log as the driver does: effects and lastApplied in one write. */
function applyUpTo(st: SqliteRaftStorage, s: OpenedStore, to: number): void {
  st.write(() => {
    for (const x of st.entries(st.lastApplied + 1, to + 1, 10_000)) if (x.data) applyEntry(s.db, x.index, JSON.parse(x.data));
    st.setAppliedInTx(to);
  });
}

describe("SQLite Raft storage", () => {
  test("appends, truncates a conflicting suffix, and reads the same back after reopening", () => {
    const { dir, store } = fresh();
    const st = new SqliteRaftStorage(store);
    expect([st.firstIndex(), st.lastIndex(), st.term(0)]).toEqual([1, 0, 0]);
    st.write(() => {}, [e(1, 1), e(2, 1), e(3, 1)], { term: 1, vote: 2, commit: 1 });
    // A new leader's entry at 2 replaces the old 2 and 3.
    st.write(() => {}, [e(2, 2, "x")], { term: 2, vote: 0, commit: 1 });
    expect(st.lastIndex()).toBe(2);
    expect(st.entries(1, 10, 100)).toEqual([e(1, 1), e(2, 2, "x")]);
    expect(st.term(3)).toBeUndefined();
    store.sqlite.close();
    stores.pop();
    const again = openStore(dir);
    stores.push(again);
    const st2 = new SqliteRaftStorage(again);
    expect(st2.initialState().hardState).toEqual({ term: 2, vote: 0, commit: 1 });
    expect(st2.entries(1, 3, 1)).toEqual([e(1, 1)]);
    expect([st2.term(2), st2.lastIndex()]).toEqual([2, 2]);
  });

  test("the log and the vote are fsynced; applying committed entries is not (it replays from the log)", () => {
    const { store } = fresh();
    const st = new SqliteRaftStorage(store);
    st.write(() => {}, [e(1, 1)], { term: 1, vote: 1, commit: 0 });
    expect(sync(store)).toBe(2); // FULL
    st.write(() => st.setAppliedInTx(1), [], { term: 1, vote: 1, commit: 1 });
    expect(sync(store)).toBe(1); // NORMAL: only the commit index and the state changed
    st.write(() => {}, [], { term: 2, vote: 3, commit: 1 });
    expect(sync(store)).toBe(2); // a vote must be on disk before it is sent
  });

  test("a failed write leaves the cached log as it was", () => {
    const { store } = fresh();
    const st = new SqliteRaftStorage(store);
    st.write(() => {}, [e(1, 1)], { term: 1, vote: 1, commit: 0 });
    expect(() =>
      st.write(
        () => {
          throw new Error("boom");
        },
        [e(2, 1)],
        { term: 1, vote: 1, commit: 1 },
      ),
    ).toThrow(/boom/);
    expect([st.lastIndex(), st.hardState.commit, st.entries(1, 5, 5).length]).toEqual([1, 0, 1]);
  });

  test("compaction drops applied entries and keeps the term at the new start", () => {
    const { store } = fresh();
    const st = new SqliteRaftStorage(store);
    st.write(() => {}, [1, 2, 3, 4, 5].map((i) => e(i, i < 3 ? 1 : 2, JSON.stringify(token(`j${i}`)))), { term: 2, vote: 1, commit: 5 });
    applyUpTo(st, store, 4);
    expect(() => st.compact(5)).toThrow(/past the applied index/);
    st.compact(3);
    expect([st.firstIndex(), st.term(3), st.term(2), st.entries(1, 6, 10).map((x) => x.index)]).toEqual([4, 2, undefined, [4, 5]]);
  });

  test("a snapshot file (copied in a worker thread) carries the state and installs on another store in one transaction, log dropped", async () => {
    const a = fresh();
    const sa = new SqliteRaftStorage(a.store);
    sa.bootstrap({ voters: [1, 2, 3], addrs: { 1: "a:1", 2: "b:1", 3: "c:1" } });
    sa.write(() => {}, [1, 2, 3].map((i) => e(i, 1, JSON.stringify(token(`t${i}`)))), { term: 1, vote: 1, commit: 3 });
    applyUpTo(sa, a.store, 3);
    const file = join(a.dir, "snap.db");
    const meta = await sa.createSnapshotFile(file);
    expect(meta).toEqual({ index: 3, term: 1, confState: { voters: [1, 2, 3] } });

    const b = fresh();
    const sb = new SqliteRaftStorage(b.store);
    sb.write(() => {}, [e(1, 1), e(2, 1), e(3, 1), e(4, 1), e(5, 1)], { term: 1, vote: 2, commit: 2 });
    expect(checkSnapshotFile(file, b.store, 3)).toBeNull();
    expect(checkSnapshotFile(file, b.store, 4)).toMatch(/covers entry 3, not 4/);
    sb.installSnapshotFile(file, meta, { term: 2, vote: 2, commit: 2 });
    expect(allTokens(b.store.db).map((t) => t.jti)).toEqual(["t1", "t2", "t3"]);
    expect([sb.firstIndex(), sb.lastIndex(), sb.term(3), sb.lastApplied]).toEqual([4, 3, 1, 3]);
    expect(sb.hardState).toEqual({ term: 2, vote: 2, commit: 3 });
    expect(sb.members.voters).toEqual([1, 2, 3]);
  });

  test("a damaged snapshot file is refused before it can replace anything", () => {
    const b = fresh();
    const bad = join(b.dir, "bad.db");
    writeFileSync(bad, "SQLite format 3\0" + "x".repeat(5000));
    expect(checkSnapshotFile(bad, b.store, 1)).toMatch(/integrity|cannot (open|read)/);
  });
});
