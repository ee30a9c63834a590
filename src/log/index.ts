/**
 * Logging through consola: one tag per subsystem, human output or one JSON
 * object per line (`--log-format json`), always on stderr so stdout stays
 * clean for `lava ctl` output and scripts.
 */
// consola/basic: the plain reporter lava uses; the full package adds a fancy
// reporter and its helpers (about 8 MB of resident memory in every process).
import { createConsola, LogLevels, type ConsolaInstance, type LogObject } from "consola/basic";
import type { LogConfig } from "../config/schema.ts";

const LEVEL_NAMES: Record<LogConfig["level"], number> = {
  silent: LogLevels.silent,
  error: LogLevels.error,
  warn: LogLevels.warn,
  info: LogLevels.info,
  debug: LogLevels.debug,
  trace: LogLevels.trace,
};

const jsonReporter = {
  log(obj: LogObject) {
    const [first, ...rest] = obj.args;
    const line: Record<string, unknown> = {
      time: obj.date.toISOString(),
      level: obj.type,
      tag: obj.tag || undefined,
      msg: typeof first === "string" ? first : first instanceof Error ? first.message : JSON.stringify(first),
    };
    for (const extra of rest) {
      if (extra && typeof extra === "object" && !(extra instanceof Error)) Object.assign(line, extra);
      else if (extra instanceof Error) line.error = extra.message;
      else if (extra !== undefined) line.detail = String(extra);
    }
    process.stderr.write(JSON.stringify(line) + "\n");
  },
};

let root: ConsolaInstance = createConsola({ level: LogLevels.info, stdout: process.stderr, stderr: process.stderr });

export function configureLogging(cfg: LogConfig): void {
  root = createConsola({
    level: LEVEL_NAMES[cfg.level],
    stdout: process.stderr,
    stderr: process.stderr,
    ...(cfg.format === "json" ? { reporters: [jsonReporter] } : { fancy: false }),
  });
  for (const [tag, proxy] of loggers) proxy.target = root.withTag(tag);
}

type Logger = Pick<ConsolaInstance, "info" | "warn" | "error" | "debug" | "trace" | "success" | "start" | "fatal">;

const loggers = new Map<string, { target: ConsolaInstance }>();

/** A logger for one subsystem; follows later configureLogging() calls. */
export function logger(tag: string): Logger {
  let entry = loggers.get(tag);
  if (!entry) {
    entry = { target: root.withTag(tag) };
    loggers.set(tag, entry);
  }
  const e = entry;
  return {
    info: (...a: unknown[]) => e.target.info(...(a as [unknown])),
    warn: (...a: unknown[]) => e.target.warn(...(a as [unknown])),
    error: (...a: unknown[]) => e.target.error(...(a as [unknown])),
    debug: (...a: unknown[]) => e.target.debug(...(a as [unknown])),
    trace: (...a: unknown[]) => e.target.trace(...(a as [unknown])),
    success: (...a: unknown[]) => e.target.success(...(a as [unknown])),
    start: (...a: unknown[]) => e.target.start(...(a as [unknown])),
    fatal: (...a: unknown[]) => e.target.fatal(...(a as [unknown])),
  } as Logger;
}
