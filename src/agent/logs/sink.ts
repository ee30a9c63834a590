/**
 * The sending end of one log stream: lines in (queue.ts), `log_line`s out
 * on the connection the request came on, then one `logs_end`.
 *
 * Rate: a flush every `flushMs` sends at most `messagesPerFlush` coalesced
 * messages, and none while the socket already holds `highWaterBytes` not
 * yet written (a slow channel); what does not fit waits in the bounded
 * queue, which drops its oldest lines (marked) when a followed log outruns
 * the channel. Producers that can wait without losing anything (a file
 * being read from disk) await room instead.
 */
import type { LogLine, LogsEnd } from "../../control/index.ts";
import { guard } from "../control.ts";
import { LineQueue, QUEUE_CHARS_MAX } from "./queue.ts";

export const FLUSH_MS = 50;
export const MESSAGES_PER_FLUSH = 8;
export const HIGH_WATER_BYTES = 256 * 1024;

/** The connection a stream's lines go to. */
export interface LogChannel {
  send(msg: LogLine | LogsEnd): boolean;
  /** Bytes handed to the socket and not written yet. */
  bufferedAmount(): number;
}

export interface SinkOptions {
  flushMs?: number;
  messagesPerFlush?: number;
  highWaterBytes?: number;
  queueChars?: number;
  wallClock?: () => number;
}

export class LogSink {
  private readonly queue: LineQueue;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private waiters: (() => void)[] = [];
  private closed = false;
  private readonly flushMs: number;
  private readonly perFlush: number;
  private readonly highWater: number;
  private readonly wallClock: () => number;
  sentMessages = 0;

  constructor(
    private readonly requestId: string,
    private readonly channel: LogChannel,
    opts: SinkOptions = {},
  ) {
    this.queue = new LineQueue(opts.queueChars ?? QUEUE_CHARS_MAX);
    this.flushMs = opts.flushMs ?? FLUSH_MS;
    this.perFlush = opts.messagesPerFlush ?? MESSAGES_PER_FLUSH;
    this.highWater = opts.highWaterBytes ?? HIGH_WATER_BYTES;
    this.wallClock = opts.wallClock ?? Date.now;
  }

  get dropped(): number {
    return this.queue.droppedTotal;
  }

  /** Queues lines; the oldest are dropped (and marked) if the queue is full. */
  push(lines: readonly string[]): void {
    if (this.closed) return;
    for (const l of lines) this.queue.push(l);
    this.schedule();
  }

  /** Queues lines, waiting for room before each when the queue is full (nothing dropped). Resolves early if the sink closes. */
  async pushWaiting(lines: readonly string[]): Promise<void> {
    for (const l of lines) {
      while (!this.closed && !this.queue.hasRoom(l.length)) await new Promise<void>((r) => this.waiters.push(r));
      if (this.closed) return;
      this.queue.push(l);
      this.schedule();
    }
  }

  /** Sends what is queued (bounded by the queue) and `logs_end`; nothing after. */
  end(error?: string): void {
    if (this.closed) return;
    this.stopTimer();
    while (this.send(this.queue.take())) {
      // drain
    }
    const msg: LogsEnd = { type: "logs_end", requestId: this.requestId };
    if (error !== undefined) msg.error = error.slice(0, 2000);
    this.channel.send(msg);
    this.close();
  }

  /** Stops without sending anything more (the connection is gone). */
  close(): void {
    this.closed = true;
    this.stopTimer();
    for (const w of this.waiters.splice(0)) w();
  }

  private send(text: string | null): boolean {
    if (text === null) return false;
    const ok = this.channel.send({ type: "log_line", requestId: this.requestId, line: text, at: this.wallClock() });
    if (ok) this.sentMessages++;
    return ok;
  }

  private schedule(): void {
    if (this.timer === null && !this.closed) this.timer = setTimeout(guard(() => this.flush()), this.flushMs);
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private flush(): void {
    this.timer = null;
    if (this.closed) return;
    for (let n = 0; n < this.perFlush && this.channel.bufferedAmount() < this.highWater; n++) {
      if (!this.send(this.queue.take())) break;
    }
    if (this.queue.hasRoom()) for (const w of this.waiters.splice(0)) w();
    if (this.queue.size > 0) this.schedule();
  }
}
