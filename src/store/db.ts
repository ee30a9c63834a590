/**
 * Opens the master's SQLite database: WAL mode, synchronous=FULL (a commit
 * is on disk before anyone is told), an integrity check at start-up, and the
 * embedded migrations. Every failure becomes a StoreError that says what to do.
 */
import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { join } from "node:path";
import { accessSync, constants, existsSync } from "node:fs";
import { LavaError } from "../errors.ts";
import { embeddedMigrations } from "./migrations/index.ts";
import { applyMigrations } from "./migrate.ts";

export const DB_FILE = "lava.db";

/**
 * State could not be written or a write's fate is unknown. `code` is what
 * the HTTP API answers (503 with it): "storage" (disk full, read-only…),
 * "not_leader" (this master cannot take writes now; `leader` says who can),
 * "commit_timeout" / "unknown_outcome" (the write may or may not be applied).
 */
export class StoreError extends LavaError {
  constructor(
    message: string,
    readonly code: "storage" | "not_leader" | "commit_timeout" | "unknown_outcome" = "storage",
    readonly leader: string | null = null,
  ) {
    super(message, "failed");
    this.name = "StoreError";
  }
}

export interface OpenedStore {
  sqlite: Database;
  db: BunSQLiteDatabase;
  path: string;
}

/** Turns SQLite's error codes into advice. */
export function explainSqliteError(e: unknown, path: string): string {
  const code = (e as { code?: string }).code ?? "";
  const msg = (e as Error).message ?? String(e);
  if (code.startsWith("SQLITE_FULL") || /disk is full|database or disk is full/i.test(msg)) return `the disk holding ${path} is full; free space and retry`;
  if (code.startsWith("SQLITE_READONLY") || /readonly|read-only/i.test(msg)) return `${path} is read-only; give the master write access to its data dir`;
  if (code.startsWith("SQLITE_CANTOPEN")) return `cannot open ${path}; check that the data dir exists and is writable`;
  if (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")) return `${path} is damaged (${msg}); restore it from a backup or another master, or move it aside to start with empty state`;
  if (code.startsWith("SQLITE_IOERR")) return `I/O error on ${path} (${msg}): the disk or the file is damaged; check the disk, then restore the file from a backup or another master`;
  if (code.startsWith("SQLITE_BUSY")) return `${path} is locked by another process; is another master running on this data dir?`;
  return `${path}: ${msg}`;
}

export function openStore(dataDir: string): OpenedStore {
  const path = join(dataDir, DB_FILE);
  if (existsSync(path)) {
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
    } catch {
      throw new StoreError(`${path} is not readable and writable by this user; fix its owner or mode`);
    }
  }
  let sqlite: Database;
  try {
    sqlite = new Database(path, { create: true, strict: true });
    sqlite.exec("PRAGMA busy_timeout = 5000");
    const mode = sqlite.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string };
    if (mode.journal_mode.toLowerCase() !== "wal") throw new StoreError(`${path}: cannot switch to WAL mode (got ${mode.journal_mode}); is the file system local?`);
    sqlite.exec("PRAGMA synchronous = FULL");
    sqlite.exec("PRAGMA foreign_keys = ON");
    const check = sqlite.query("PRAGMA quick_check").all() as { quick_check: string }[];
    if (check.length !== 1 || check[0]!.quick_check !== "ok") {
      sqlite.close();
      throw new StoreError(
        `${path} failed its integrity check (${check.map((c) => c.quick_check).slice(0, 3).join("; ")}); the master will not start on damaged state. Restore the file from a backup or another master, or move it aside to start empty`,
      );
    }
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError(explainSqliteError(e, path));
  }
  // Drizzle's bun-sqlite driver calls client.prepare() for every query, and
  // SQLite's statement compilation was the master's top cost under load
  // (≈12 % of CPU in bench/jobs.ts). bun:sqlite's query() returns the same
  // compiled statement for the same SQL text; drizzle runs each statement to
  // completion synchronously, so sharing it is safe.
  sqlite.prepare = sqlite.query.bind(sqlite) as typeof sqlite.prepare;
  const db = drizzle({ client: sqlite });
  try {
    applyMigrations(db, embeddedMigrations());
  } catch (e) {
    sqlite.close();
    throw new StoreError(`migrating ${path} failed: ${explainSqliteError(e, path)}`);
  }
  return { sqlite, db, path };
}
