/**
 * Migrations embedded in the binary: the compiled `lava` has no migrations
 * folder at run time, so each SQL file drizzle-kit generates is imported as
 * text here (add one import and one line per new migration). They come out
 * exactly as Drizzle's own folder reader (drizzle-orm/migrator
 * readMigrationFiles) would read them: tests/store/migrate.test.ts compares.
 */
import type { MigrationMeta } from "drizzle-orm/migrator";
import journal from "./meta/_journal.json" with { type: "json" };
import m0000 from "./0000_init.sql" with { type: "text" };
import m0001 from "./0001_jobs.sql" with { type: "text" };
import m0002 from "./0002_host_sessions.sql" with { type: "text" };
import m0003 from "./0003_raft_log.sql" with { type: "text" };
import m0004 from "./0004_host_keys.sql" with { type: "text" };
import m0005 from "./0005_jobs_operators.sql" with { type: "text" };
import m0006 from "./0006_request_ids.sql" with { type: "text" };
import m0007 from "./0007_approvals.sql" with { type: "text" };

const SQL: Record<string, string> = {
  "0000_init": m0000,
  "0001_jobs": m0001,
  "0002_host_sessions": m0002,
  "0003_raft_log": m0003,
  "0004_host_keys": m0004,
  "0005_jobs_operators": m0005,
  "0006_request_ids": m0006,
  "0007_approvals": m0007,
};

/** The journal's entries, in idx order (their `when` must increase: see migrate.ts). */
export const JOURNAL = journal.entries;

export function embeddedMigrations(): MigrationMeta[] {
  return journal.entries.map((e) => {
    const text = SQL[e.tag];
    if (text === undefined) throw new Error(`store: migration ${e.tag} is in the journal but not embedded; add it to src/store/migrations/index.ts`);
    return {
      sql: text.split("--> statement-breakpoint"),
      bps: e.breakpoints,
      folderMillis: e.when,
      hash: new Bun.CryptoHasher("sha256").update(text).digest("hex"),
    };
  });
}
