/** The Raft core (docs/raft.md): pure, deterministic, driven by the application through RaftNode. */
export type * from "./types.ts";
export { RawNode, DEFAULT_MAX_COMMITTED_PER_READY, DEFAULT_MAX_PENDING_READS, DEFAULT_MAX_UNCOMMITTED_ENTRIES, MAX_READ_CONTEXT_CHARS } from "./node.ts";
export { MemoryStorage } from "./memory-storage.ts";
export { bootstrapEntries, decodeConfChange, encodeConfChange, isNodeId, MAX_CONF_CONTEXT_CHARS, MAX_NODE_ID } from "./confchange.ts";
export { parseRaftMessage, MessageSchema, MAX_ENTRIES_PER_MESSAGE, MAX_ENTRY_DATA_CHARS, MAX_MESSAGE_DATA_CHARS, MAX_VOTERS, type ParsedMessage } from "./schema.ts";
