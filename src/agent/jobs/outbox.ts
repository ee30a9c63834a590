/**
 * The job-event outbox: every `job_event` the agent emitted that the master
 * has not acknowledged yet, in emission order. Pure: no I/O, no clock.
 *
 * An event leaves only when an `ack` names its eventId; after each
 * (re)registration the agent sends the whole outbox again, in order, so a
 * `finished` produced while the control channel was down (or lost with a
 * dying connection) still reaches the master. The master records each
 * (jobId, attempt) end once, so sending an event twice is harmless.
 *
 * Two bounds, so that a master that stays away for days cannot make the
 * agent grow without limit:
 * - events (default 10,000): when over, the oldest `started` events are
 *   dropped first. A `finished` is never dropped: it is the only record of
 *   how a job ended, and the master would otherwise requeue (run twice) a
 *   job that already ran. With only `finished` events left the outbox may
 *   stay over this bound; their number is bounded by the jobs this host ran
 *   while cut off.
 * - captured output (default 32 Mi characters over all events): when over,
 *   the stdout and stderr of the oldest `finished` events are cut to a short
 *   head (`shrunkOutputChars`) and marked truncated. The end state, exit
 *   code and reason are kept.
 */
import type { JobEvent } from "../../control/index.ts";
import { clipText } from "./event.ts";

export const OUTBOX_EVENTS_MAX = 10_000;
export const OUTBOX_OUTPUT_CHARS_MAX = 32 * 1024 * 1024;
/** What is left of each stream of an event shrunk to honour the output bound. */
export const OUTBOX_SHRUNK_OUTPUT_CHARS = 4096;

export interface OutboxBounds {
  eventsMax: number;
  outputCharsMax: number;
  shrunkOutputChars: number;
}

/** What one push cost: events dropped and events whose output was cut to make room. */
export interface OutboxPushResult {
  droppedStarted: number;
  shrunk: number;
  /** Over eventsMax with nothing droppable left (only `finished` events). */
  overBound: boolean;
}

function outputChars(ev: JobEvent): number {
  return (ev.stdout?.length ?? 0) + (ev.stderr?.length ?? 0);
}

export class Outbox {
  readonly #bounds: OutboxBounds;
  /** In emission order. Removal in the middle is O(n); n is bounded and acks are rare. */
  #events: JobEvent[] = [];
  #outputChars = 0;
  #droppedTotal = 0;
  #shrunkTotal = 0;

  constructor(bounds: Partial<OutboxBounds> = {}) {
    this.#bounds = {
      eventsMax: bounds.eventsMax ?? OUTBOX_EVENTS_MAX,
      outputCharsMax: bounds.outputCharsMax ?? OUTBOX_OUTPUT_CHARS_MAX,
      shrunkOutputChars: bounds.shrunkOutputChars ?? OUTBOX_SHRUNK_OUTPUT_CHARS,
    };
    if (this.#bounds.eventsMax < 1) throw new Error("outbox eventsMax must be at least 1");
  }

  get size(): number {
    return this.#events.length;
  }

  /** Started events dropped and finished events shrunk since the start. */
  get droppedTotal(): number {
    return this.#droppedTotal;
  }
  get shrunkTotal(): number {
    return this.#shrunkTotal;
  }

  /** Every unacknowledged event, oldest first (a copy). */
  all(): JobEvent[] {
    return this.#events.slice();
  }

  push(ev: JobEvent): OutboxPushResult {
    this.#events.push(ev);
    this.#outputChars += outputChars(ev);
    let droppedStarted = 0;
    while (this.#events.length > this.#bounds.eventsMax) {
      const i = this.#events.findIndex((e) => e.event === "started");
      if (i < 0) break;
      this.#events.splice(i, 1);
      droppedStarted++;
    }
    let shrunk = 0;
    for (let i = 0; this.#outputChars > this.#bounds.outputCharsMax && i < this.#events.length; i++) {
      const e = this.#events[i]!;
      const before = outputChars(e);
      const small = this.#shrink(e);
      const after = outputChars(small);
      if (after < before) {
        this.#events[i] = small;
        this.#outputChars -= before - after;
        shrunk++;
      }
    }
    this.#droppedTotal += droppedStarted;
    this.#shrunkTotal += shrunk;
    return { droppedStarted, shrunk, overBound: this.#events.length > this.#bounds.eventsMax };
  }

  /** Forgets the events named; returns how many were found. Unknown ids are ignored (an old or repeated ack). */
  ack(eventIds: readonly string[]): number {
    if (eventIds.length === 0) return 0;
    const ids = new Set(eventIds);
    const keep: JobEvent[] = [];
    let removed = 0;
    for (const e of this.#events) {
      if (ids.has(e.eventId)) {
        removed++;
        this.#outputChars -= outputChars(e);
      } else keep.push(e);
    }
    this.#events = keep;
    return removed;
  }

  #shrink(e: JobEvent): JobEvent {
    const max = this.#bounds.shrunkOutputChars;
    const out = { ...e };
    if (e.stdout !== undefined && e.stdout.length > max) {
      out.stdout = clipText(e.stdout, max);
      out.stdoutTruncated = true;
    }
    if (e.stderr !== undefined && e.stderr.length > max) {
      out.stderr = clipText(e.stderr, max);
      out.stderrTruncated = true;
    }
    return out;
  }
}
