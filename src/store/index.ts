/**
 * Durable state: SQLite through Drizzle, written only by applying commands
 * from the log. See docs/storage.md.
 */
export { openStore, StoreError, DB_FILE, explainSqliteError, type OpenedStore } from "./db.ts";
export { CommandSchema, APPROVAL_REQUEST_CHARS_MAX, HOSTS_PER_REMOVE_MAX, JOB_DEPS_MAX, parseCommand, type Applied, type Command, type CommandType, type ApplyResult, type JobDeps, type JobPlacement } from "./commands.ts";
export { SqliteRaftStorage, checkSnapshotFile, type Members } from "./raft-storage.ts";
export { applyEntry, setLastApplied } from "./apply.ts";
export { getMeta, META, type MetaKey } from "./meta.ts";
export * from "./queries.ts";
export * from "./approval-queries.ts";
