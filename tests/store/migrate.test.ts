/**
 * Migrations: the embedded ones are Drizzle's own reading of the folder,
 * the journal's times increase, and a database made by the previous
 * release (migrations 0000–0003) is upgraded by the current code with its
 * rows intact.
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { join } from "node:path";
import { allHosts, applyEntry, DB_FILE, openStore, setLastApplied } from "../../src/store/index.ts";
import { applyMigrations } from "../../src/store/migrate.ts";
import { embeddedMigrations, JOURNAL } from "../../src/store/migrations/index.ts";
import pkg from "../../package.json" with { type: "json" };
import { scratchDirs } from "../helpers/teardown.ts";

const FOLDER = join(import.meta.dir, "../../src/store/migrations");
/** The migrations of the previous release (0.1 as shipped: /work/baseline's dist/lava). */
const PREVIOUS_RELEASE = 4;

const tempDir = scratchDirs("lava-migrate-");

describe("embedded migrations", () => {
  test("are exactly what Drizzle's public readMigrationFiles reads from the folder (SQL, hash, time, breakpoints)", () => {
    expect(embeddedMigrations()).toEqual(readMigrationFiles({ migrationsFolder: FOLDER }));
  });

  test("the journal's idx count up from 0 and its `when` strictly increase (Drizzle skips a migration older than the newest applied)", () => {
    expect(JOURNAL.map((e) => e.idx)).toEqual(JOURNAL.map((_, i) => i));
    for (let i = 1; i < JOURNAL.length; i++) {
      if (!(JOURNAL[i]!.when > JOURNAL[i - 1]!.when)) throw new Error(`migration ${JOURNAL[i]!.tag} has when ${JOURNAL[i]!.when}, not after ${JOURNAL[i - 1]!.tag}'s ${JOURNAL[i - 1]!.when}: Drizzle would never apply it to a database that has the other`);
    }
  });

  test("drizzle-orm is pinned to the exact version the private migrate call was written for", () => {
    expect(pkg.dependencies["drizzle-orm"]).toMatch(/^\d+\.\d+\.\d+$/);
    expect((require("drizzle-orm/package.json") as { version: string }).version).toBe(pkg.dependencies["drizzle-orm"]);
  });
});

/** Fills every column of a table with a value of its type (a text or a number made from the column's name). */
function sampleRow(sqlite: Database, table: string, n: number): Record<string, string | number> {
  const cols = sqlite.query(`PRAGMA table_info(\`${table}\`)`).all() as { name: string; type: string }[];
  return Object.fromEntries(cols.map((c, i) => [c.name, /int/i.test(c.type) ? n * 100 + i : `${table}.${c.name}#${n}`]));
}

describe("the upgrade path", () => {
  test("a database of the previous release opens, is migrated to the latest, and keeps every row of every table", () => {
    const dir = tempDir();
    const old = new Database(join(dir, DB_FILE), { create: true, strict: true });
    applyMigrations(drizzle({ client: old }), embeddedMigrations().slice(0, PREVIOUS_RELEASE));
    const tables = (old.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '__drizzle_migrations'").all() as { name: string }[]).map((t) => t.name).sort();
    expect(tables).toContain("hosts");
    expect(tables).toContain("jobs");
    const written = new Map<string, Record<string, string | number>[]>();
    for (const t of tables) {
      const rows = [sampleRow(old, t, 1), sampleRow(old, t, 2)];
      for (const row of rows) {
        const cols = Object.keys(row);
        old.query(`INSERT INTO \`${t}\` (${cols.map((c) => `\`${c}\``).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`).run(...(Object.values(row) as never[]));
      }
      written.set(t, rows);
    }
    // The state machine's counter, as the previous release kept it.
    old.query("INSERT INTO meta (key, value) VALUES ('nextHostId', '41')").run();
    old.close();

    const store = openStore(dir);
    try {
      const applied = store.sqlite.query("SELECT hash, created_at FROM __drizzle_migrations").all() as { hash: string; created_at: number }[];
      expect(applied.map((m) => Number(m.created_at))).toEqual(JOURNAL.map((e) => e.when));
      for (const [t, rows] of written) {
        for (const row of rows) {
          const key = Object.keys(row)[0]!;
          const got = store.sqlite.query(`SELECT ${Object.keys(row).map((c) => `\`${c}\``).join(", ")} FROM \`${t}\` WHERE \`${key}\` = ?`).get(row[key] as never) as Record<string, unknown> | null;
          expect({ table: t, row: got }).toEqual({ table: t, row });
        }
      }
      // The new columns are there with their defaults, and the current state machine works on the old rows.
      expect(allHosts(store.db).map((h) => ({ hostname: h.hostname, hostKey: h.hostKey, sessionGen: h.sessionGen }))).toEqual([
        { hostname: "hosts.hostname#1", hostKey: null, sessionGen: 0 },
        { hostname: "hosts.hostname#2", hostKey: null, sessionGen: 0 },
      ]);
      const r = store.db.transaction((tx) => {
        const res = applyEntry(tx, 1000, { type: "host.register", at: 1, actor: "a", actorRole: "agent", hostname: "new-host", hardware: { ncpus: 1, memBytes: 1, gpus: 0 }, version: "x" });
        setLastApplied(tx, 1000);
        return res;
      });
      expect(r).toEqual({ ok: true, value: { hostId: 41, created: true } });
    } finally {
      store.sqlite.close();
    }
    // Opened again: nothing more to migrate.
    const again = openStore(dir);
    expect((again.sqlite.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n).toBe(JOURNAL.length);
    again.sqlite.close();
  });
});
