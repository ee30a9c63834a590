/**
 * Who may report on a job (docs/security.md, "Control channel: who may speak
 * for a job"): a `job_event` is accepted only from the session of the host
 * the job's current attempt is assigned to, for that attempt. Everything
 * else is refused here, before anything is proposed, so nothing an agent
 * sends about another host's job (or a job that does not exist, or an old
 * attempt) reaches the log. Pure: the caller passes the job as the master
 * holds it in memory and the time.
 *
 * It also bounds what an accepted event stores: output is cut to the job's
 * output cap on the master too (a modified agent ignores its own), and
 * numbers that go into the job's row are checked for plausibility.
 */
import { JOB_LIMITS, type JobEvent } from "../../control/index.ts";
import type { RefusalReason } from "../control/refusals.ts";

/** What the guard needs of a job: the master's view of its current attempt. */
export interface GuardedJob {
  state: "PEND" | "RUN";
  hostId: number | null;
  attempts: number;
  /** The end is being recorded already (a second `finished` is a duplicate). */
  ending?: boolean;
}

export type EventVerdict = { ok: true; event: JobEvent } | { ok: false; reason: RefusalReason; detail: string };

/** Exit codes a process can have (0-255) and negated signal numbers, with room; anything else is recorded as unknown. */
const EXIT_CODE_ABS_MAX = 1024;
/** An agent's `startedAt` more than this far from the master's clock is not believed (recorded as unknown). */
const STARTED_AT_SKEW_MS_MAX = 366 * 86_400_000;

export function authorizeJobEvent(job: GuardedJob | undefined, hostId: number, ev: JobEvent, nowMs: number, outputCapBytes: number = JOB_LIMITS.outputBytesDefault): EventVerdict {
  if (!job) return { ok: false, reason: "job_not_found", detail: `job ${ev.jobId} is not running anywhere` };
  if (job.state !== "RUN") return { ok: false, reason: "job_not_running", detail: `job ${ev.jobId} is not running` };
  if (job.hostId !== hostId) return { ok: false, reason: "job_other_host", detail: `job ${ev.jobId} does not run on this host` };
  if (job.attempts !== ev.attempt) return { ok: false, reason: "job_stale_attempt", detail: `job ${ev.jobId} is at attempt ${job.attempts}, not ${ev.attempt}` };
  if (ev.event === "finished" && job.ending) return { ok: false, reason: "job_duplicate", detail: `the end of job ${ev.jobId} attempt ${ev.attempt} is being recorded already` };
  return { ok: true, event: boundEvent(ev, nowMs, outputCapBytes) };
}

/** The event with every stored field within bounds. */
export function boundEvent(ev: JobEvent, nowMs: number, outputCapBytes: number): JobEvent {
  const out: JobEvent = { ...ev };
  if (out.stdout !== undefined) {
    const c = capText(out.stdout, outputCapBytes);
    out.stdout = c.text;
    if (c.cut) out.stdoutTruncated = true;
  }
  if (out.stderr !== undefined) {
    const c = capText(out.stderr, outputCapBytes);
    out.stderr = c.text;
    if (c.cut) out.stderrTruncated = true;
  }
  if (out.exitCode !== undefined && out.exitCode !== null && Math.abs(out.exitCode) > EXIT_CODE_ABS_MAX) out.exitCode = null;
  if (out.startedAt !== undefined && (!Number.isSafeInteger(out.startedAt) || Math.abs(out.startedAt - nowMs) > STARTED_AT_SKEW_MS_MAX)) delete out.startedAt;
  if (out.signal && !/^SIG[A-Z0-9+-]{1,16}$/.test(out.signal)) out.signal = null;
  return out;
}

/** Text cut to at most `capBytes` bytes of UTF-8 (on a character boundary). */
export function capText(text: string, capBytes: number): { text: string; cut: boolean } {
  // Most output is ASCII: a string no longer than the cap in UTF-16 units may still be over it in bytes only if it is not.
  if (text.length * 3 <= capBytes) return { text, cut: false };
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes <= capBytes) return { text, cut: false };
  const buf = Buffer.from(text, "utf8").subarray(0, capBytes);
  // Drop a partial character at the end (continuation bytes 10xxxxxx and the lead byte before them).
  let end = buf.length;
  let i = end - 1;
  while (i >= 0 && (buf[i]! & 0xc0) === 0x80) i--;
  if (i >= 0) {
    const lead = buf[i]!;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - i < need) end = i;
  }
  return { text: buf.subarray(0, end).toString("utf8"), cut: true };
}
