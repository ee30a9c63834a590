/**
 * Reading one output pipe of a child, keeping at most `limitBytes`. Past
 * the bound it keeps reading and discarding, so the child never blocks on a
 * full pipe.
 *
 * readBounded hands each kept piece to a callback as it arrives (`execute`
 * streams them; journalctl is read line by line); capture() keeps them and
 * decodes the whole as UTF-8 at the end, lossy (invalid bytes become
 * U+FFFD): what a job's `finished` event carries.
 */
export interface Captured {
  text: string;
  /** Bytes the job wrote (kept or not), as far as read. */
  bytes: number;
  truncated: boolean;
}

export interface BoundedRead {
  /** Resolves at end of stream, on a read error, or after cancel(). Never rejects. */
  readonly done: Promise<void>;
  /** Stops reading (a pipe still held open by an escaped grandchild, or nobody wants more). */
  cancel(): void;
  /** Bytes read so far, kept or not. */
  readonly bytes: number;
  /** More than limitBytes arrived: the rest was read and dropped. */
  readonly truncated: boolean;
}

export interface Capture {
  /** Resolves at end of stream, on a read error, or after cancel(). Never rejects. */
  readonly done: Promise<void>;
  /** Stops reading (a pipe still held open by an escaped grandchild). */
  cancel(): void;
  result(): Captured;
}

/** Reads `stream` to its end; the first `limitBytes` go to `onKept` (a copy, in order), the rest is counted and dropped. */
export function readBounded(stream: ReadableStream<Uint8Array>, limitBytes: number, onKept: (bytes: Uint8Array) => void): BoundedRead {
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
          kept += take;
          // Copy: the runtime may reuse the chunk's buffer.
          onKept(value.slice(0, take));
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
    get bytes() {
      return bytes;
    },
    get truncated() {
      return bytes > kept;
    },
  };
}

export function capture(stream: ReadableStream<Uint8Array>, limitBytes: number): Capture {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  const read = readBounded(stream, limitBytes, (c) => {
    chunks.push(c);
    kept += c.byteLength;
  });
  return {
    done: read.done,
    cancel: () => read.cancel(),
    result() {
      const all = new Uint8Array(kept);
      let off = 0;
      for (const c of chunks) {
        all.set(c, off);
        off += c.byteLength;
      }
      return { text: new TextDecoder("utf-8", { fatal: false }).decode(all), bytes: read.bytes, truncated: read.truncated };
    },
  };
}
