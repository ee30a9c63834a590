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
  /** What was written from byte `from` on, up to `maxBytes` (for `lava ctl peek`); see Peeked. */
  peek(from: number, maxBytes: number): Peeked;
}

/**
 * A piece of a stream while it is written. The capture keeps the head (up
 * to its limit) and the last TAIL_BYTES; a part in neither is gone, and
 * `from` then starts past the offset asked for.
 */
export interface Peeked {
  text: string;
  from: number;
  total: number;
}

/** How much of the end of each stream is kept for peek, beyond the captured head. */
export const TAIL_BYTES = 64 * 1024;

/** Bytes [from, from + max) of a stream of `total` bytes, from the head kept and the tail ring. Pure. */
export function peekBytes(head: Uint8Array, tail: Uint8Array, total: number, from: number, max: number): { bytes: Uint8Array; from: number } {
  const start = Math.max(0, Math.min(from, total));
  if (start < head.length) return { bytes: head.subarray(start, Math.min(head.length, start + max)), from: start };
  const tailStart = total - tail.length;
  const s = Math.max(start, tailStart);
  return { bytes: tail.subarray(s - tailStart, Math.min(tail.length, s - tailStart + max)), from: s };
}

/** Reads `stream` to its end; the first `limitBytes` go to `onKept` (a copy, in order), the rest is counted and dropped. */
export function readBounded(stream: ReadableStream<Uint8Array>, limitBytes: number, onKept: (bytes: Uint8Array) => void, onChunk?: (bytes: Uint8Array) => void): BoundedRead {
  let kept = 0;
  let bytes = 0;
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        bytes += value.byteLength;
        onChunk?.(value);
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

export function capture(stream: ReadableStream<Uint8Array>, limitBytes: number, tailBytes = TAIL_BYTES): Capture {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  // The last tailBytes of what the head could not keep, as a ring. Bytes the head
  // holds are peeked from the head, so the ring starts only past it, and is
  // allocated only then: most jobs write less than their limit (a 64 KiB ring
  // per stream per job cost more than the rest of capturing a short job).
  let ring: Uint8Array | null = null;
  let ringEnd = 0;
  let ringLen = 0;
  const toRing = (chunk: Uint8Array) => {
    // Called before the chunk's kept part is counted: the first limitBytes - kept bytes go to the head.
    const c = chunk.subarray(Math.max(0, Math.min(chunk.byteLength, limitBytes - kept)));
    if (c.byteLength === 0) return;
    ring ??= new Uint8Array(tailBytes);
    const b = c.byteLength > tailBytes ? c.subarray(c.byteLength - tailBytes) : c;
    for (let off = 0; off < b.byteLength; ) {
      const n = Math.min(b.byteLength - off, tailBytes - ringEnd);
      ring.set(b.subarray(off, off + n), ringEnd);
      ringEnd = (ringEnd + n) % tailBytes;
      off += n;
    }
    ringLen = Math.min(tailBytes, ringLen + b.byteLength);
  };
  const read = readBounded(
    stream,
    limitBytes,
    (c) => {
      chunks.push(c);
      kept += c.byteLength;
    },
    tailBytes > 0 ? toRing : undefined,
  );
  const head = () => {
    if (chunks.length === 1) return chunks[0]!;
    const all = new Uint8Array(kept);
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.byteLength;
    }
    chunks.splice(0, chunks.length, all);
    return all;
  };
  return {
    done: read.done,
    cancel: () => read.cancel(),
    result() {
      return { text: new TextDecoder("utf-8", { fatal: false }).decode(kept === 0 ? new Uint8Array(0) : head()), bytes: read.bytes, truncated: read.truncated };
    },
    peek(from, maxBytes) {
      const tail = new Uint8Array(ringLen);
      const start = (ringEnd - ringLen + tailBytes) % Math.max(1, tailBytes);
      for (let i = 0; i < ringLen; i++) tail[i] = ring![(start + i) % tailBytes]!;
      const p = peekBytes(kept === 0 ? new Uint8Array(0) : head(), tail, read.bytes, from, maxBytes);
      return { text: new TextDecoder("utf-8", { fatal: false }).decode(p.bytes), from: p.from, total: read.bytes };
    },
  };
}
