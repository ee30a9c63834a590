/**
 * `stream_logs` / `stop_logs` on the agent (docs/api.md "Agent requests").
 *
 * A request names a path (judged by its real path against agent.logs.allow,
 * policy.ts) or a unit (agent.logs.units, read with journalctl). The agent
 * sends the last `lines` (default 10) as `log_line`s and then, when
 * following, what is appended, until `stop_logs`, the end of the connection
 * the request came on, or the agent's stop; then `logs_end` (with `error`
 * for a refusal or a failure). When the connection ends nothing more is
 * sent: the stream belonged to it.
 *
 * At most `sessionsMax` (16) streams at once; more are refused. A second
 * stream_logs with the requestId of a running stream is ignored.
 */
import { realpath } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import type { StreamLogs } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import { errorText } from "../control.ts";
import { configWhere } from "../exec/index.ts";
import { commandEnv, currentUser, reasonText, type EnvSource } from "../jobs/index.ts";
import { tailFile } from "./file.ts";
import { tailJournal } from "./journal.ts";
import { pathAllowed, unitAllowed } from "./policy.ts";
import { LogSink, type LogChannel, type SinkOptions } from "./sink.ts";

const log = logger("agent");

export const LOG_SESSIONS_MAX = 16;
export const LOG_LINES_DEFAULT = 10;

export interface LogStreamerOptions {
  /** agent.logs.allow */
  allow: readonly string[];
  /** agent.logs.units */
  units: readonly string[];
  configFile: string | null;
  env?: EnvSource;
  sessionsMax?: number;
  pollMs?: number;
  sink?: SinkOptions;
}

export interface LogStreamer {
  /** Starts a stream whose lines go to `channel`, which belongs to `owner` (the connection the request came on). */
  start(msg: StreamLogs, channel: LogChannel, owner: object): void;
  /** `owner`'s connection has ended: its streams stop, sending nothing more. */
  ownerGone(owner: object): void;
  /** stop_logs: ends the stream with `logs_end`. Unknown ids are ignored. */
  stop(requestId: string): void;
  /** Streams running now. */
  active(): number;
  /** Ends every stream (logs_end, no error) and resolves when they have ended. */
  stopAll(): Promise<void>;
}

class Refused extends Error {}

interface Session {
  readonly abort: AbortController;
  readonly sink: LogSink;
  readonly owner: object;
  done: Promise<void>;
}

const shown = (s: string) => JSON.stringify(reasonText(s, 300));

export function createLogStreamer(opts: LogStreamerOptions): LogStreamer {
  const sessionsMax = opts.sessionsMax ?? LOG_SESSIONS_MAX;
  const env = commandEnv(opts.env ?? process.env, currentUser());
  const sessions = new Map<string, Session>();

  const allowed = (real: string) => pathAllowed(real, opts.allow);

  /** The real path of `path` if the policy allows it; throws Refused (what to change) or an Error. */
  async function allowedRealPath(path: string): Promise<string> {
    if (!path.startsWith("/")) throw new Refused(`give an absolute path, not ${shown(path)}`);
    const notAllowed = (real: string | null) =>
      new Refused(
        `${shown(path)}${real !== null && real !== path ? ` (real path ${shown(real)})` : ""} is not allowed: add the file, its directory (ending in '/') or a glob to agent.logs.allow in ${configWhere(opts.configFile, "LAVA_LOGS_ALLOW")}; entries are compared with real paths, so write them without symlinks`,
      );
    let real: string;
    try {
      real = await realpath(path);
    } catch (e) {
      // Whether a file outside the list exists is not this agent's to tell.
      if (!allowed(resolvePath(path))) throw notAllowed(null);
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === "ENOENT" ? `${shown(path)}: no such file on this host` : `cannot resolve ${shown(path)}: ${code ?? errorText(e)}`);
    }
    if (!allowed(real)) throw notAllowed(real);
    return real;
  }

  async function run(msg: StreamLogs, s: Session): Promise<void> {
    const lines = msg.lines ?? LOG_LINES_DEFAULT;
    const signal = s.abort.signal;
    if ((msg.path === undefined) === (msg.unit === undefined)) throw new Refused("give either a path or a unit");
    if (msg.path !== undefined) {
      const realPath = await allowedRealPath(msg.path);
      await tailFile({ realPath, requested: msg.path, lines, follow: msg.follow, signal, allowed, sink: s.sink, ...(opts.pollMs ? { pollMs: opts.pollMs } : {}) });
      return;
    }
    const unit = msg.unit!;
    if (!unitAllowed(unit, opts.units)) throw new Refused(`unit ${shown(unit)} is not allowed: add it to agent.logs.units in ${configWhere(opts.configFile, "LAVA_LOGS_UNITS")}`);
    await tailJournal({ unit, lines, follow: msg.follow, signal, env, sink: s.sink });
  }

  return {
    start(msg, channel, owner) {
      if (sessions.has(msg.requestId)) {
        log.debug(`stream_logs ${msg.requestId} ignored: already streaming`);
        return;
      }
      const sink = new LogSink(msg.requestId, channel, opts.sink);
      if (sessions.size >= sessionsMax) {
        sink.end(`busy: ${sessions.size} log streams already running on this host (at most ${sessionsMax}); stop one first`);
        return;
      }
      const s: Session = { abort: new AbortController(), sink, owner, done: Promise.resolve() };
      sessions.set(msg.requestId, s);
      s.done = run(msg, s)
        .then(
          () => sink.end(),
          (e) => {
            // The master gets the reason in logs_end; here it is one info line.
            log.info(`${e instanceof Refused ? "refused" : "ended with an error:"} stream_logs ${msg.requestId}: ${errorText(e)}`);
            sink.end(errorText(e));
          },
        )
        .finally(() => sessions.delete(msg.requestId));
    },

    stop(requestId) {
      sessions.get(requestId)?.abort.abort();
    },

    ownerGone(owner) {
      for (const s of sessions.values()) {
        if (s.owner !== owner) continue;
        // The stream belonged to that connection: nothing more to send.
        s.sink.close();
        s.abort.abort();
      }
    },

    active: () => sessions.size,

    async stopAll() {
      const all = [...sessions.values()];
      for (const s of all) s.abort.abort();
      await Promise.all(all.map((s) => s.done));
    },
  };
}
