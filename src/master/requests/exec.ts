/**
 * One exec fanned out to its targets (design §5): an `execute` to each
 * host, at most `maxParallel` open at once (the rest start as earlier ones
 * end, so a fan-out to 10,000 hosts runs as a moving window of that size),
 * output passed on as it comes, one result per host whatever happens.
 * No I/O of its own: sending, the router and the clock come in.
 */
import { JOB_LIMITS, type CommandResult, type Execute } from "../../control/index.ts";
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
  send(hostId: number, msg: Execute): boolean;
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
      const r = await execOne(t, req, deps, sink);
      if (succeeded(r)) ok++;
      sink.result(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(maxParallel, targets.length)) }, worker));
  return { hosts: targets.length, ok, failed: targets.length - ok };
}

function errorResult(host: string, error: string, durationMs = 0, status: ExecStatus = "error"): ExecHostResult {
  return { host, status, exitCode: null, signal: null, error, stdoutTruncated: false, stderrTruncated: false, durationMs };
}

function execOne(t: Target, req: { argv: string[]; timeoutMs: number; deny?: readonly string[] }, deps: ExecDeps, sink: ExecSink): Promise<ExecHostResult> {
  if (!t.entry) return Promise.resolve(errorResult(t.host, UNKNOWN_HOST));
  if (!t.entry.connected) return Promise.resolve(errorResult(t.host, NO_CHANNEL));
  const hostId = t.entry.hostId;
  const started = deps.nowMs();
  const forwarded = { stdout: 0, stderr: 0 };
  const cut = { stdout: false, stderr: false };
  return new Promise<ExecHostResult>((resolve) => {
    const opened = deps.router.openRequest(hostId, "exec", req.timeoutMs + EXEC_SLACK_MS, {
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
    if (!deps.send(hostId, { type: "execute", requestId: opened.requestId, argv: req.argv, timeoutMs: req.timeoutMs, ...(req.deny?.length ? { deny: [...req.deny] } : {}) })) {
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
