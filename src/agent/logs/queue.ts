/**
 * The lines of one log stream waiting for the control channel. Pure.
 *
 * Bounded by QUEUE_CHARS_MAX characters: when a followed log grows faster
 * than the channel carries it, the oldest queued lines are dropped and one
 * marker line takes their place, saying how many, so the viewer stays on
 * what is happening now and knows that something is missing. take()
 * coalesces queued lines into one `log_line` (joined by '\n', at most
 * LOG_LINE_CHARS_MAX), so many short lines do not become many messages.
 */
export const QUEUE_CHARS_MAX = 1 << 20;
/** LogLineSchema: `line` is at most 64 Ki characters. */
export const LOG_LINE_CHARS_MAX = 64 * 1024;

export function dropMarker(n: number): string {
  return `[lava: ${n} line${n === 1 ? "" : "s"} dropped here: the log grew faster than the control channel carried it]`;
}

export class LineQueue {
  private lines: string[] = [];
  private head = 0;
  private chars = 0;
  /** Lines dropped since the last take() that reported them. */
  private droppedPending = 0;
  droppedTotal = 0;

  constructor(private readonly maxChars = QUEUE_CHARS_MAX) {}

  get size(): number {
    return this.lines.length - this.head + (this.droppedPending > 0 ? 1 : 0);
  }

  get queuedChars(): number {
    return this.chars;
  }

  /** Room for `chars` more without dropping anything (producers that can wait use this); an empty queue takes any line. */
  hasRoom(chars = 1): boolean {
    return this.chars + chars <= this.maxChars || this.lines.length === this.head;
  }

  push(line: string): void {
    this.lines.push(line);
    this.chars += line.length;
    while (this.chars > this.maxChars && this.lines.length - this.head > 1) {
      this.chars -= this.lines[this.head]!.length;
      this.lines[this.head] = "";
      this.head++;
      this.droppedPending++;
      this.droppedTotal++;
    }
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.head = 0;
    }
  }

  /** The next message's text: the drop marker first if lines were dropped, then as many whole lines as fit; null if empty. */
  take(maxChars = LOG_LINE_CHARS_MAX): string | null {
    const parts: string[] = [];
    let used = 0;
    if (this.droppedPending > 0) {
      const m = dropMarker(this.droppedPending);
      this.droppedPending = 0;
      parts.push(m);
      used = m.length;
    }
    while (this.head < this.lines.length) {
      const line = this.lines[this.head]!;
      const cost = line.length + (parts.length > 0 ? 1 : 0);
      if (parts.length > 0 && used + cost > maxChars) break;
      parts.push(line);
      used += cost;
      this.chars -= line.length;
      this.lines[this.head] = "";
      this.head++;
    }
    if (this.head === this.lines.length) {
      this.lines = [];
      this.head = 0;
    }
    return parts.length > 0 ? parts.join("\n") : null;
  }
}
