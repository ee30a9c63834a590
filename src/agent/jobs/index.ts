/**
 * Jobs on the agent (design §5): runner.ts spawns and kills (the Bun.spawn
 * edge); the pure parts are outbox.ts (unacknowledged events, bounded),
 * event.ts (fitting an event into one control message), end.ts (how an
 * attempt ended) and env.ts (the job's environment). capture.ts reads an
 * output pipe up to a bound; group.ts signals process groups (shared with
 * exec/, health/ and logs/).
 */
export { createJobRunner, DRAIN_MS, KILL_GRACE_MS_DEFAULT, REMEMBERED_JOBS_MAX, STOP_GRACE_MS_MAX, type JobRunner, type JobRunnerOptions, type JobRunnerStats } from "./runner.ts";
export { Outbox, OUTBOX_EVENTS_MAX, OUTBOX_OUTPUT_CHARS_MAX, OUTBOX_SHRUNK_OUTPUT_CHARS, type OutboxBounds, type OutboxPushResult } from "./outbox.ts";
export { clipText, EVENT_BYTES_MAX, fitEventToMessage, headWithinJsonBytes, jsonStringBytes, reasonText } from "./event.ts";
export { classifyEnd, spawnFailure, spawnFailureExitCode, timeoutReason, type JobEnd } from "./end.ts";
export { commandEnv, DEFAULT_PATH, jobEnv, type EnvSource } from "./env.ts";
export { capture, readBounded, type BoundedRead, type Capture, type Captured } from "./capture.ts";
export { currentUser, signalGroup, signalName, within } from "./group.ts";
