/**
 * Running one command to its end: the Bun.spawn edge shared by `execute`,
 * health-check commands, journalctl and the update's test run.
 *
 * Like a job (jobs/runner.ts): argv directly (never a shell), stdin
 * /dev/null, its own session and process group (`detached`), every signal to
 * the whole group. A timeout or an abort sends SIGTERM to the group and
 * SIGKILL `killGraceMs` later. When the main process exits, whatever it left
 * in its group is SIGKILLed (no orphans), and its pipes are given up
 * `drainMs` later if a process that left the group still holds them.
 * Output is read up to `limitBytes` per stream and handed to `onOutput` as it
 * comes; past the bound it is read and dropped, and marked truncated.
 */
import { errorText, guard } from "../control.ts";
import { DRAIN_MS, readBounded, signalGroup, signalName, within } from "../jobs/index.ts";

export type StreamName = "stdout" | "stderr";

export interface ProcessOptions {
  argv: readonly string[];
  env: Record<string, string>;
  /** 0 or absent: no timeout. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL on a timeout or an abort. */
  killGraceMs: number;
  /** Bound on each of stdout and stderr; Infinity for none (journalctl -f). */
  limitBytes: number;
  onOutput?: (stream: StreamName, bytes: Uint8Array) => void;
  /** Aborting kills the group (SIGTERM, then SIGKILL after the grace). */
  signal?: AbortSignal;
  drainMs?: number;
  /** Names the process in log lines. */
  what: string;
  now?: () => number;
}

export type ProcessOutcome =
  | { started: false; code: string | undefined; message: string }
  | {
      started: true;
      pid: number;
      exitCode: number | null;
      signal: string | null;
      timedOut: boolean;
      aborted: boolean;
      durationMs: number;
      stdoutTruncated: boolean;
      stderrTruncated: boolean;
    };

export async function runProcess(opts: ProcessOptions): Promise<ProcessOutcome> {
  const now = opts.now ?? (() => performance.now());
  const drainMs = opts.drainMs ?? DRAIN_MS;
  if (opts.signal?.aborted) return { started: false, code: undefined, message: "cancelled before it started" };
  const t0 = now();
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  try {
    proc = Bun.spawn([...opts.argv], { env: opts.env, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
  } catch (e) {
    return { started: false, code: (e as NodeJS.ErrnoException).code, message: errorText(e) };
  }
  const pid = proc.pid;
  const out = readBounded(proc.stdout, opts.limitBytes, (b) => opts.onOutput?.("stdout", b));
  const err = readBounded(proc.stderr, opts.limitBytes, (b) => opts.onOutput?.("stderr", b));
  let exited = false;
  let timedOut = false;
  let aborted = false;
  let killing = false;
  let grace: ReturnType<typeof setTimeout> | null = null;

  const kill = guard(() => {
    if (exited || killing) return;
    killing = true;
    signalGroup(pid, "SIGTERM", opts.what);
    grace = setTimeout(
      guard(() => {
        grace = null;
        if (!exited) signalGroup(pid, "SIGKILL", opts.what);
      }),
      opts.killGraceMs,
    );
  });
  const timer =
    opts.timeoutMs && opts.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          kill();
        }, opts.timeoutMs)
      : null;
  const onAbort = () => {
    aborted = true;
    kill();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  await proc.exited.catch(() => {});
  exited = true;
  const durationMs = Math.max(0, Math.round(now() - t0));
  if (timer) clearTimeout(timer);
  if (grace) clearTimeout(grace);
  opts.signal?.removeEventListener("abort", onAbort);
  // Whatever the main process left in its group goes with it.
  signalGroup(pid, "SIGKILL", opts.what);
  if (!(await within(Promise.all([out.done, err.done]), drainMs))) {
    out.cancel();
    err.cancel();
  }
  const signal = signalName(proc.signalCode);
  return {
    started: true,
    pid,
    exitCode: signal === null ? proc.exitCode : null,
    signal,
    timedOut,
    aborted,
    durationMs,
    stdoutTruncated: out.truncated,
    stderrTruncated: err.truncated,
  };
}
