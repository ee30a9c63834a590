/**
 * Reading one output pipe of a job, keeping at most `limitBytes`. Past the
 * bound it keeps reading and discarding, so the child never blocks on a
 * full pipe. Decoded as UTF-8, lossy (invalid bytes become U+FFFD).
 */
export interface Captured {
  text: string;
  /** Bytes the job wrote (kept or not), as far as read. */
  bytes: number;
  truncated: boolean;
}

export interface Capture {
  /** Resolves at end of stream, on a read error, or after cancel(). Never rejects. */
  readonly done: Promise<void>;
  /** Stops reading (a pipe still held open by an escaped grandchild). */
  cancel(): void;
  result(): Captured;
}

export function capture(stream: ReadableStream<Uint8Array>, limitBytes: number): Capture {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let bytes = 0;
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        bytes += value.byteLength;
        if (kept < limitBytes) {
          const take = Math.min(value.byteLength, limitBytes - kept);
          // Copy: the runtime may reuse the chunk's buffer.
          chunks.push(value.slice(0, take));
          kept += take;
        }
      }
    } catch {
      // Cancelled, or the pipe broke: what was read is kept.
    }
  })();
  return {
    done,
    cancel() {
      reader.cancel().catch(() => {});
    },
    result() {
      const all = new Uint8Array(kept);
      let off = 0;
      for (const c of chunks) {
        all.set(c, off);
        off += c.byteLength;
      }
      return { text: new TextDecoder("utf-8", { fatal: false }).decode(all), bytes, truncated: bytes > kept };
    },
  };
}
