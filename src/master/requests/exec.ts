/**
 * One exec fanned out to its targets (design §5): an `execute` to each
 * host, at most `maxParallel` open at once (the rest start as earlier ones
 * end, so a fan-out to 10,000 hosts runs as a moving window of that size),
 * output passed on as it comes, one result per host whatever happens.
 * No I/O of its own: sending, the router and the clock come in.
 */
import { JOB_LIMITS, type CommandResult, type Deploy, type Execute } from "../../control/index.ts";
import { formatSeconds, type RequestRouter, type RoutedMessage } from "./router.ts";
import type { Target } from "./targets.ts";

export type ExecStatus = "ok" | "refused" | "failed" | "timeout" | "error";

export interface ExecHostResult {
  host: string;
  status: ExecStatus;
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
}

export interface ExecSink {
  output(host: string, stream: "stdout" | "stderr", data: string): void;
  result(r: ExecHostResult): void;
}

export interface ExecDeps {
  router: RequestRouter;
  /** Sends on the host's control channel; false if it has none. */
  send(hostId: number, msg: Execute | Deploy): boolean;
  nowMs(): number;
}

/**
 * Beyond the command's own timeout, how long the master waits for the
 * agent's result: the agent's kill grace (SIGTERM, then SIGKILL) and the
 * way back. After it the host's result is `timeout` from the master.
 */
export const EXEC_SLACK_MS = 5_000;
/**
 * Output the master passes on per host and stream. The agent bounds what it
 * captures (agent.exec.outputLimit); this bound holds against an agent that
 * does not.
 */
export const EXEC_FORWARD_BYTES_MAX = JOB_LIMITS.outputBytesMax;

export const NO_CHANNEL = "no control channel (host unreach/unavail)";
export const UNKNOWN_HOST = "unknown host";

/** A host's result counts as ok for the summary (and for ctl's exit code) only if it ran and exited 0. */
export const succeeded = (r: Pick<ExecHostResult, "status" | "exitCode">): boolean => r.status === "ok" && r.exitCode === 0;

export async function runExec(targets: readonly Target[], req: { argv: string[]; timeoutMs: number; deny?: readonly string[] }, maxParallel: number, deps: ExecDeps, sink: ExecSink): Promise<{ hosts: number; ok: number; failed: number }> {
  let ok = 0;
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const t = targets[next++]!;
      const r = await runOne(t, execRequest(req), deps, sink);
      if (succeeded(r)) ok++;
      sink.result(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(maxParallel, targets.length)) }, worker));
  return { hosts: targets.length, ok, failed: targets.length - ok };
}

export function errorResult(host: string, error: string, durationMs = 0, status: ExecStatus = "error"): ExecHostResult {
  return { host, status, exitCode: null, signal: null, error, stdoutTruncated: false, stderrTruncated: false, durationMs };
}

/** One request to one host: what kind it is for the router, how long the master waits, the message to send. */
export interface OneRequest {
  kind: "exec" | "deploy";
  timeoutMs: number;
  message(requestId: string): Execute | Deploy;
}

function execRequest(req: { argv: string[]; timeoutMs: number; deny?: readonly string[] }): OneRequest {
  return { kind: "exec", timeoutMs: req.timeoutMs, message: (requestId) => ({ type: "execute", requestId, argv: req.argv, timeoutMs: req.timeoutMs, ...(req.deny?.length ? { deny: [...req.deny] } : {}) }) };
}

/**
 * Sends one request (an `execute`, a `deploy`) to one host and resolves with
 * its result, whatever happens: output is passed to `sink` as it comes
 * (bounded per stream), the end is the agent's `command_result`, the
 * deadline (timeout + EXEC_SLACK_MS), or the session ending.
 */
export function runOne(t: Target, req: OneRequest, deps: ExecDeps, sink: Pick<ExecSink, "output">): Promise<ExecHostResult> {
  if (!t.entry) return Promise.resolve(errorResult(t.host, UNKNOWN_HOST));
  if (!t.entry.connected) return Promise.resolve(errorResult(t.host, NO_CHANNEL));
  const hostId = t.entry.hostId;
  const started = deps.nowMs();
  const forwarded = { stdout: 0, stderr: 0 };
  const cut = { stdout: false, stderr: false };
  return new Promise<ExecHostResult>((resolve) => {
    const opened = deps.router.openRequest(hostId, req.kind, req.timeoutMs + EXEC_SLACK_MS, {
      onMessage(msg: RoutedMessage) {
        if (msg.type === "command_output") {
          const room = EXEC_FORWARD_BYTES_MAX - forwarded[msg.stream];
          if (room <= 0) {
            cut[msg.stream] = true;
            return;
          }
          const data = msg.data.length > room ? msg.data.slice(0, room) : msg.data;
          if (data.length < msg.data.length) cut[msg.stream] = true;
          forwarded[msg.stream] += data.length;
          sink.output(t.host, msg.stream, data);
          return;
        }
        if (msg.type === "command_result") resolve(fromAgent(t.host, msg, deps.nowMs() - started, cut));
      },
      onFail(reason, detail) {
        const elapsed = deps.nowMs() - started;
        if (reason === "timeout") {
          resolve(errorResult(t.host, `no result from the agent within ${formatSeconds(req.timeoutMs + EXEC_SLACK_MS)} (the timeout plus ${formatSeconds(EXEC_SLACK_MS)}); the command may still be running there`, elapsed, "timeout"));
        } else {
          resolve(errorResult(t.host, detail, elapsed));
        }
      },
    });
    if (!opened.ok) {
      resolve(errorResult(t.host, `master busy: ${opened.detail}`));
      return;
    }
    if (!deps.send(hostId, req.message(opened.requestId))) {
      deps.router.cancel(opened.requestId);
      resolve(errorResult(t.host, NO_CHANNEL));
    }
  });
}

function fromAgent(host: string, m: CommandResult, elapsedMs: number, cut: { stdout: boolean; stderr: boolean }): ExecHostResult {
  return {
    host,
    status: m.status,
    exitCode: m.exitCode ?? null,
    signal: m.signal ?? null,
    error: m.error ?? null,
    stdoutTruncated: (m.stdoutTruncated ?? false) || cut.stdout,
    stderrTruncated: (m.stderrTruncated ?? false) || cut.stderr,
    durationMs: typeof m.durationMs === "number" && Number.isFinite(m.durationMs) && m.durationMs >= 0 ? Math.round(m.durationMs) : elapsedMs,
  };
}
