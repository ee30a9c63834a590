/**
 * A streamed HTTP body of lines (NDJSON or text) that never makes the master
 * buffer without limit. The body is a pull-based ReadableStream, so bytes
 * leave only as fast as the client reads; what producers push meanwhile
 * waits in a queue bounded by `maxBufferedBytes`. Past the bound a
 * droppable line is dropped and counted (the producer learns it from
 * push's answer), and the next line that fits is preceded by a marker line
 * saying how many were lost. Lines that must arrive (results, the end) are
 * never dropped: the producers bound how many of those there are.
 */

export interface LineStreamOptions {
  maxBufferedBytes: number;
  /** The line that replaces dropped lines (no newline), or null for none. */
  dropMarker?: (lines: number, bytes: number) => string | null;
  /** The reader went away (client closed the connection) before the end. */
  onCancel?: () => void;
}

/** Default bound on what one streamed response may hold for a slow client. */
export const STREAM_BUFFER_BYTES = 4 << 20;

const enc = new TextEncoder();

export class LineStream {
  readonly readable: ReadableStream<Uint8Array>;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private droppedLines = 0;
  private droppedBytes = 0;
  private droppedTotal = 0;
  private ended = false;
  private gone = false;
  private wake: (() => void) | null = null;

  constructor(private readonly opts: LineStreamOptions) {
    this.readable = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          while (this.queue.length === 0 && !this.ended) await new Promise<void>((r) => (this.wake = r));
          if (this.queue.length > 0) {
            const chunk = this.queue.length === 1 ? this.queue[0]! : concat(this.queue, this.queuedBytes);
            this.queue = [];
            this.queuedBytes = 0;
            controller.enqueue(chunk);
            return;
          }
          controller.close();
        },
        cancel: () => {
          if (this.ended && this.queue.length === 0) return;
          this.gone = true;
          this.ended = true;
          this.queue = [];
          this.queuedBytes = 0;
          this.poke(); // a pull still waiting ends (the stream is gone)
          this.opts.onCancel?.();
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** The client went away: pushing more is pointless (but harmless). */
  get cancelled(): boolean {
    return this.gone;
  }

  /** Lines dropped so far because the client read too slowly. */
  get droppedLinesTotal(): number {
    return this.droppedTotal;
  }

  /**
   * Queues one line (a newline is added). Returns false if it was dropped:
   * droppable and over the bound, or after the end or the reader left.
   */
  push(line: string, droppable = true): boolean {
    if (this.ended) return false;
    const bytes = enc.encode(line + "\n");
    if (droppable && this.queuedBytes + bytes.length > this.opts.maxBufferedBytes) {
      this.droppedLines++;
      this.droppedTotal++;
      this.droppedBytes += bytes.length;
      return false;
    }
    this.flushMarker();
    this.enqueue(bytes);
    return true;
  }

  /** Ends the body after what is queued. */
  end(lastLine?: string): void {
    if (this.ended) return;
    if (lastLine !== undefined) this.push(lastLine, false);
    else this.flushMarker();
    this.ended = true;
    this.poke();
  }

  private flushMarker(): void {
    if (this.droppedLines === 0) return;
    const marker = this.opts.dropMarker?.(this.droppedLines, this.droppedBytes) ?? null;
    this.droppedLines = 0;
    this.droppedBytes = 0;
    if (marker !== null) this.enqueue(enc.encode(marker + "\n"));
  }

  private enqueue(bytes: Uint8Array): void {
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Response headers of an NDJSON stream. */
export const NDJSON = { "content-type": "application/x-ndjson", "cache-control": "no-store", "x-content-type-options": "nosniff" } as const;
