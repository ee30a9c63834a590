/**
 * Applies the embedded migrations (migrations/index.ts) with Drizzle's own
 * SQLite migrator: the `__drizzle_migrations` table, one transaction, a
 * migration applied when its journal time (`when`) is newer than the
 * newest one recorded.
 *
 * Why a private call: drizzle-orm's public migrator for bun:sqlite
 * (drizzle-orm/bun-sqlite/migrator) reads a migrations folder, which the
 * compiled binary does not have, and 0.45 has no public entry that takes
 * migrations in memory. Both its folder migrators end in the dialect's
 * `migrate(migrations, session, config)`; lava calls that one method, here
 * only, with drizzle-orm pinned to the exact version in package.json.
 * tests/store/migrate.test.ts holds the pieces to Drizzle's public side:
 * the embedded migrations equal what readMigrationFiles reads from the
 * folder, a database of the previous release is upgraded with its rows
 * intact, and the journal's times increase (Drizzle skips a migration
 * older than the newest applied).
 */
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";

type DialectMigrate = (migrations: MigrationMeta[], session: unknown, config: object) => void;

export function applyMigrations(db: BunSQLiteDatabase, migrations: MigrationMeta[]): void {
  const internals = db as unknown as { dialect?: { migrate?: DialectMigrate }; session?: unknown };
  const dialect = internals.dialect;
  if (typeof dialect?.migrate !== "function" || internals.session === undefined) {
    // A programmer error: drizzle-orm was upgraded past the version this adapter was written for.
    throw new Error("store: this drizzle-orm has no SQLite dialect.migrate; src/store/migrate.ts must be updated for it (package.json pins the version it was written for)");
  }
  dialect.migrate(migrations, internals.session, {});
}
