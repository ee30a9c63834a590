/**
 * `execute` on the agent (design §5): allow.ts (the allowlist, pure),
 * chunks.ts (output into UTF-8-safe chunks, pure), results.ts (results kept
 * while disconnected, pure), process.ts (the Bun.spawn edge: one command,
 * its process group, timeout, bounded output; also used by health/, logs/
 * and update/), executor.ts (requests in, `command_output` and
 * `command_result` out).
 */
export { commandAllowed, configWhere, refusalText } from "./allow.ts";
export { CHUNK_BYTES, concatBytes, utf8Boundary, Utf8Chunker } from "./chunks.ts";
export { ResultQueue, RESULTS_MAX } from "./results.ts";
export { runProcess, type ProcessOptions, type ProcessOutcome, type StreamName } from "./process.ts";
export { createExecutor, EXEC_KILL_GRACE_MS, EXEC_RUNNING_MAX, OUTPUT_FLUSH_MS, type Executor, type ExecutorOptions, type ExecutorStats } from "./executor.ts";
