/**
 * A journald unit (`stream_logs` with a unit): `journalctl -u UNIT -o cat
 * -n N [-f]`, argv only, in its own process group like every command the
 * agent runs (exec/process.ts); stopping the stream kills the group. Its
 * stdout is cut into lines (lines.ts) and pushed to the sink, which drops
 * (marked) if the channel is slower than the journal.
 */
import { EXEC_KILL_GRACE_MS, runProcess } from "../exec/index.ts";
import { spawnFailure } from "../jobs/index.ts";
import { firstLine } from "../health/index.ts";
import { LineSplitter } from "./lines.ts";
import type { LogSink } from "./sink.ts";

/** Not following, journalctl gets this long to print the lines. */
export const JOURNAL_TIMEOUT_MS = 60_000;
const STDERR_BYTES = 4096;

export function journalArgv(unit: string, lines: number, follow: boolean): string[] {
  return ["journalctl", "-u", unit, "-o", "cat", "-n", String(lines), ...(follow ? ["-f"] : [])];
}

export async function tailJournal(o: { unit: string; lines: number; follow: boolean; signal: AbortSignal; env: Record<string, string>; sink: LogSink }): Promise<void> {
  const splitter = new LineSplitter();
  const stderr = new TextDecoder();
  let errText = "";
  const argv = journalArgv(o.unit, o.lines, o.follow);
  const outcome = await runProcess({
    argv,
    env: o.env,
    timeoutMs: o.follow ? 0 : JOURNAL_TIMEOUT_MS,
    killGraceMs: EXEC_KILL_GRACE_MS,
    limitBytes: Number.POSITIVE_INFINITY,
    onOutput: (stream, bytes) => {
      if (stream === "stdout") o.sink.push(splitter.push(bytes));
      else if (errText.length < STDERR_BYTES) errText += stderr.decode(bytes, { stream: true });
    },
    signal: o.signal,
    what: `journalctl for ${o.unit}`,
  });
  if (!outcome.started) throw new Error(`${spawnFailure("journalctl", { code: outcome.code, message: outcome.message }, "the agent's PATH").reason} (this host has no journald, or journalctl is not installed)`);
  o.sink.push(splitter.end());
  if (outcome.aborted) return;
  if (outcome.timedOut) throw new Error(`journalctl did not finish within ${JOURNAL_TIMEOUT_MS / 1000} s`);
  if (outcome.exitCode !== 0) throw new Error(`journalctl ${outcome.signal ? `was killed by ${outcome.signal}` : `exited with ${outcome.exitCode}`}${firstLine(errText) ? `: ${firstLine(errText)}` : ""}`);
}
