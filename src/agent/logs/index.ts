/**
 * Log streaming on the agent (`stream_logs`, `stop_logs`): policy.ts (which
 * paths and units, pure), lines.ts (bytes → bounded lines, where a tail
 * starts; pure), queue.ts (bounded queue, coalescing, drop markers; pure),
 * sink.ts (rate and slow-channel handling, `log_line` / `logs_end` out),
 * file.ts (tail and follow a file: truncation, rotation), journal.ts
 * (journalctl), streamer.ts (requests in, sessions).
 */
export { entryKind, pathAllowed, unitAllowed, type AllowKind } from "./policy.ts";
export { LINE_BYTES_MAX, LineSplitter, tailStart } from "./lines.ts";
export { dropMarker, LineQueue, LOG_LINE_CHARS_MAX, QUEUE_CHARS_MAX } from "./queue.ts";
export { FLUSH_MS, HIGH_WATER_BYTES, LogSink, MESSAGES_PER_FLUSH, type LogChannel, type SinkOptions } from "./sink.ts";
export { openRegular, POLL_BYTES_MAX, POLL_MS, tailFile, TAIL_BYTES_MAX, type FileTailOptions } from "./file.ts";
export { journalArgv, JOURNAL_TIMEOUT_MS, tailJournal } from "./journal.ts";
export { createLogStreamer, LOG_LINES_DEFAULT, LOG_SESSIONS_MAX, type LogStreamer, type LogStreamerOptions } from "./streamer.ts";
