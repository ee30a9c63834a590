/**
 * Durable state: SQLite through Drizzle, written only by applying commands
 * from the log. See docs/storage.md.
 */
export { openStore, StoreError, DB_FILE, explainSqliteError, type OpenedStore } from "./db.ts";
export { CommandLog, type Applied, type CommandLogOptions } from "./log.ts";
export { CommandSchema, parseCommand, type Command, type CommandType, type ApplyResult } from "./commands.ts";
export { applyEntry, getMeta, setLastApplied } from "./apply.ts";
export * from "./queries.ts";
