/**
 * How a job attempt ended, in the terms of design §5. Pure.
 *
 * - killed by this agent (timeout, kill_job, a newer attempt, agent stop) →
 *   KILLED with that reason, whatever the exit status turned out to be (a
 *   job that traps SIGTERM and exits 0 was still killed);
 * - exit code 0 → DONE; any other exit code → EXIT with it;
 * - a signal this agent did not send (the OOM killer, a user on the host,
 *   a crash) → EXIT with the signal name and exitCode null;
 * - never started (bad cwd, spawn error) → EXIT; exitCode 127 / 126 as a
 *   shell would give for "not found" / "not executable", null when the
 *   fault is the working directory or the host.
 */
import type { JobEndState } from "../../control/index.ts";
import { reasonText } from "./event.ts";

export interface JobEnd {
  state: JobEndState;
  exitCode: number | null;
  signal: string | null;
  reason?: string;
}

export function classifyEnd(exit: { exitCode: number | null; signal: string | null; killReason: string | null }): JobEnd {
  const { exitCode, signal } = exit;
  if (exit.killReason !== null) return { state: "KILLED", exitCode, signal, reason: reasonText(exit.killReason) };
  if (signal !== null) return { state: "EXIT", exitCode: null, signal, reason: `killed by signal ${signal}, not sent by lava` };
  if (exitCode === 0) return { state: "DONE", exitCode: 0, signal: null };
  if (exitCode === null) return { state: "EXIT", exitCode: null, signal: null, reason: "ended without an exit status" };
  return { state: "EXIT", exitCode, signal: null, reason: `exit code ${exitCode}` };
}

/** Exit code a shell reports for a command that could not be run, by errno code. */
export function spawnFailureExitCode(code: string | undefined): number | null {
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return 127;
    case "EACCES":
    case "EPERM":
    case "ENOEXEC":
    case "EISDIR":
      return 126;
    default:
      return null;
  }
}

/** `pathOf`: whose PATH a bare name was looked up in, for the message. */
export function spawnFailure(argv0: string, err: { code?: string | undefined; message: string }, pathOf = "the job's PATH"): JobEnd {
  const exitCode = spawnFailureExitCode(err.code);
  const shown = JSON.stringify(reasonText(argv0, 200));
  const why =
    exitCode === 127
      ? `command not found: ${shown} (not in ${pathOf}, or no such file)`
      : exitCode === 126
        ? `command not executable: ${shown} (${err.code})`
        : `cannot start ${shown}: ${err.message}`;
  return { state: "EXIT", exitCode, signal: null, reason: reasonText(why) };
}

/** "timeout after 30 s", "timeout after 0.3 s". */
export function timeoutReason(timeoutMs: number): string {
  return `timeout after ${Number((timeoutMs / 1000).toFixed(3))} s`;
}
