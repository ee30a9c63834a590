/**
 * Shaping `job_event` messages so that they fit the control channel. Pure.
 *
 * The wire allows up to `JOB_LIMITS.outputBytesMax` captured per stream,
 * but one control message is at most `MAX_MESSAGE_BYTES` of JSON (the master
 * refuses anything larger), and JSON escaping can multiply the size of
 * binary output by six (a NUL byte is `\u0000`). So the agent captures up to
 * the job's output limit and then cuts stdout and stderr of the `finished`
 * event until the whole message fits, keeping the head of each stream and
 * marking it truncated. Each stream gets half the room; a stream that needs
 * less leaves the rest to the other.
 */
import { MAX_MESSAGE_BYTES, type JobEvent } from "../../control/index.ts";

/** Room kept free under MAX_MESSAGE_BYTES (headroom for any framing the master adds when it logs or relays). */
export const MESSAGE_SLACK_BYTES = 1024;
export const EVENT_BYTES_MAX = MAX_MESSAGE_BYTES - MESSAGE_SLACK_BYTES;
/** JobEventSchema: `reason` is at most 1000 characters. */
export const REASON_CHARS_MAX = 1000;

/** The first `maxChars` UTF-16 units of `s`, never splitting a surrogate pair. */
export function clipText(s: string, maxChars: number): string {
  if (s.length <= maxChars) return s;
  let n = Math.max(0, maxChars);
  const last = s.charCodeAt(n - 1);
  if (n > 0 && last >= 0xd800 && last <= 0xdbff) n--;
  return s.slice(0, n);
}

/** Bounded, one-line text for a reason field (untrusted parts such as argv[0] may be long). */
export function reasonText(s: string, maxChars = REASON_CHARS_MAX): string {
  const one = s.replace(/\s*\n\s*/g, " ");
  return one.length > maxChars ? `${clipText(one, maxChars - 1)}…` : one;
}

/** Bytes `s` takes inside a JSON string literal (without the quotes). */
export function jsonStringBytes(s: string): number {
  return Buffer.byteLength(JSON.stringify(s)) - 2;
}

/** The longest head of `s` whose JSON escaping takes at most `budgetBytes`. */
export function headWithinJsonBytes(s: string, budgetBytes: number): string {
  if (jsonStringBytes(s) <= budgetBytes) return s;
  // Escaped size grows with the prefix length: binary search on it.
  let lo = 0;
  let hi = Math.min(s.length, Math.max(0, budgetBytes));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonStringBytes(clipText(s, mid)) <= budgetBytes) lo = mid;
    else hi = mid - 1;
  }
  return clipText(s, lo);
}

/** `ev`, with stdout and stderr cut (and marked truncated) so that its JSON is at most `maxBytes`. */
export function fitEventToMessage(ev: JobEvent, maxBytes = EVENT_BYTES_MAX): JobEvent {
  if (Buffer.byteLength(JSON.stringify(ev)) <= maxBytes) return ev;
  // `false` is the longer flag: an upper bound for what the flags will take.
  const bare: JobEvent = { ...ev, stdoutTruncated: false, stderrTruncated: false };
  if (ev.stdout !== undefined) bare.stdout = "";
  if (ev.stderr !== undefined) bare.stderr = "";
  const budget = Math.max(0, maxBytes - Buffer.byteLength(JSON.stringify(bare)));
  const outCost = ev.stdout === undefined ? 0 : jsonStringBytes(ev.stdout);
  const errCost = ev.stderr === undefined ? 0 : jsonStringBytes(ev.stderr);
  let outBudget = Math.floor(budget / 2);
  let errBudget = budget - outBudget;
  if (outCost < outBudget) {
    errBudget += outBudget - outCost;
    outBudget = outCost;
  } else if (errCost < errBudget) {
    outBudget += errBudget - errCost;
    errBudget = errCost;
  }
  const out: JobEvent = { ...ev };
  if (ev.stdout !== undefined && outCost > outBudget) {
    out.stdout = headWithinJsonBytes(ev.stdout, outBudget);
    out.stdoutTruncated = true;
  }
  if (ev.stderr !== undefined && errCost > errBudget) {
    out.stderr = headWithinJsonBytes(ev.stderr, errBudget);
    out.stderrTruncated = true;
  }
  return out;
}
