/**
 * GET /api/v1/hosts/:name/logs (docs/api.md "Logs"): a file's (or a
 * journald unit's) lines from a host, streamed as they come, optionally
 * followed. Admin only (logs can hold secrets), audited as `logs.stream`.
 *
 * The status line has to be chosen before the first byte, so the master
 * waits up to FIRST_ANSWER_WAIT_MS for the agent's first line or its end:
 * an end with an error in that time (path not allowed, no such file) is an
 * HTTP error; otherwise the stream starts (200) and an error that comes
 * later ends it with a trailer: in text, a last line `# lava: error: …`;
 * in NDJSON (Accept: application/x-ndjson, what `lava ctl logs` asks for)
 * an `{"type":"end","error":…}` line, which cannot be mistaken for a log
 * line. Closing the connection sends `stop_logs` to the agent.
 */
import * as v from "valibot";
import type { HostTable } from "../hosts/table.ts";
import { auditText } from "../requests/audit.ts";
import { NO_CHANNEL } from "../requests/exec.ts";
import type { RoutedMessage } from "../requests/router.ts";
import type { ChangeRoute } from "./change.ts";
import { parseBody } from "./router.ts";
import type { AgentLink } from "./targets.ts";
import { HttpError } from "./errors.ts";
import { LineStream, NDJSON, STREAM_BUFFER_BYTES } from "./stream.ts";

/** How long the first answer may take before the stream starts anyway (a quiet followed file sends nothing). */
export const FIRST_ANSWER_WAIT_MS = 2000;
/** A read that does not follow must end within this. */
export const LOGS_READ_TIMEOUT_MS = 120_000;
export const LOGS_LINES_DEFAULT = 10;
export const LOGS_LINES_MAX = 100_000;

const yesNo = v.optional(v.picklist(["0", "1", "true", "false", ""]));
const LogsQuerySchema = v.pipe(
  v.strictObject({
    path: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
    unit: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
    follow: yesNo,
    lines: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, "lines: a whole number"), v.transform(Number), v.maxValue(LOGS_LINES_MAX, `lines: at most ${LOGS_LINES_MAX}`))),
  }),
  v.check((q) => (q.path === undefined) !== (q.unit === undefined), "give exactly one of path (a file on the host) or unit (a journald unit)"),
);

/** How lines, drops and the end are written: plain text for people and curl, NDJSON for ctl. */
interface Framing {
  headers: Record<string, string>;
  /** A first line, so that the status and headers leave before the first log line (Bun sends them with the first chunk). */
  start: string | null;
  line(text: string): string;
  dropped(lines: number): string;
  end(error: string | null): string | null;
}

const TEXT: Framing = {
  headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" },
  start: null,
  line: (t) => t,
  dropped: (n) => `# lava: ${n} lines dropped (this client reads more slowly than the log grows)`,
  end: (error) => (error === null ? null : `# lava: error: ${error}`),
};
const NDJSON_FRAMING: Framing = {
  headers: NDJSON,
  start: JSON.stringify({ type: "start" }),
  line: (t) => JSON.stringify({ type: "line", line: t }),
  dropped: (n) => JSON.stringify({ type: "dropped", lines: n }),
  end: (error) => JSON.stringify({ type: "end", error }),
};

export interface LogsDeps {
  hosts: HostTable;
  agents: AgentLink;
  holdOpen(req: Request): void;
}

export function logsRoutes(deps: LogsDeps, change: ChangeRoute): void {
  change("GET", "/api/v1/hosts/:name/logs", "logs.stream", (p) => p.name ?? null, async (req, p, url, c) => {
    const q = parseBody(LogsQuerySchema, Object.fromEntries(url.searchParams));
    const follow = q.follow === "1" || q.follow === "true" || q.follow === "";
    const lines = q.lines ?? LOGS_LINES_DEFAULT;
    const host = deps.hosts.byHostname(p.name!);
    if (!host) throw new HttpError(404, "unknown_host", `no host named '${p.name}' is registered (see 'lava ctl hosts')`);
    const hostId = host.hostId;
    if (!deps.agents.hasChannel(hostId)) throw new HttpError(409, "no_channel", `${host.hostname}: ${NO_CHANNEL}`);
    const framing = (req.headers.get("accept") ?? "").includes("application/x-ndjson") ? NDJSON_FRAMING : TEXT;
    const what = q.path !== undefined ? { path: q.path } : { unit: q.unit! };

    let requestId = "";
    let ended = false;
    /** The reader went away (or the audit row could not be written): tell the agent to stop. */
    const stop = () => {
      if (ended) return;
      ended = true;
      if (deps.agents.requests.cancel(requestId)) deps.agents.send(hostId, { type: "stop_logs", requestId });
    };
    const stream = new LineStream({ maxBufferedBytes: STREAM_BUFFER_BYTES, dropMarker: (n) => framing.dropped(n), onCancel: stop });
    req.signal.addEventListener("abort", stop);
    if (framing.start !== null) stream.push(framing.start, false);
    let firstLine = false;
    let settle: (early: { error: string } | null) => void = () => {};
    const first = new Promise<{ error: string } | null>((r) => (settle = r));
    const finish = (error: string | null) => {
      ended = true;
      if (!firstLine && error !== null) return settle({ error });
      settle(null);
      const last = framing.end(error);
      stream.end(last ?? undefined);
    };
    const opened = deps.agents.requests.openRequest(hostId, "logs", follow ? null : LOGS_READ_TIMEOUT_MS, {
      onMessage(msg: RoutedMessage) {
        if (msg.type === "log_line") {
          firstLine = true;
          settle(null);
          stream.push(framing.line(msg.line));
        } else if (msg.type === "logs_end") {
          finish(msg.error ?? null);
        }
      },
      onFail: (_reason, detail) => finish(detail),
    });
    if (!opened.ok) throw new HttpError(503, "busy", opened.detail);
    requestId = opened.requestId;
    if (!deps.agents.send(hostId, { type: "stream_logs", requestId, ...what, follow, lines })) {
      deps.agents.requests.cancel(requestId);
      throw new HttpError(409, "no_channel", `${host.hostname}: ${NO_CHANNEL}`);
    }
    const timer = setTimeout(() => settle(null), FIRST_ANSWER_WAIT_MS);
    const early = await first;
    clearTimeout(timer);
    // A refusal by the agent is audited as one (by change()); a read that started, here, before any line leaves.
    if (early) throw new HttpError(409, "logs_failed", `${host.hostname}: ${early.error}`);
    try {
      await c.commit({ type: "audit.record", action: "logs.stream", target: host.hostname, result: "started", detail: auditText(JSON.stringify({ ...what, follow, lines })) });
    } catch (e) {
      stop();
      throw e;
    }
    if (!ended) deps.holdOpen(req);
    return new Response(stream.readable, { headers: framing.headers });
  });
}
