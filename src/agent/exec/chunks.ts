/**
 * Cutting a stream of output bytes into `command_output` chunks. Pure.
 *
 * Each chunk carries at most CHUNK_BYTES of the command's bytes and never
 * splits a UTF-8 sequence: a sequence cut by a read is held back until its
 * rest arrives (TextDecoder's stream mode); bytes that are not UTF-8 become
 * U+FFFD. Small reads are gathered (the executor flushes on a short timer),
 * so a command writing one byte at a time does not become one message per
 * byte.
 */
export const CHUNK_BYTES = 64 * 1024;

export class Utf8Chunker {
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(private readonly chunkBytes = CHUNK_BYTES) {}

  /** Bytes gathered and not yet returned. */
  get size(): number {
    return this.pendingBytes;
  }

  /** Adds bytes; returns the full chunks that are ready now. */
  push(bytes: Uint8Array): string[] {
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
    const out: string[] = [];
    while (this.pendingBytes >= this.chunkBytes) out.push(this.take(this.chunkBytes, true));
    return out.filter((s) => s !== "");
  }

  /** Everything gathered, as one chunk ("" if none); with `end`, also the bytes held back for an unfinished sequence. */
  flush(end = false): string {
    return this.take(this.pendingBytes, !end);
  }

  private take(n: number, stream: boolean): string {
    const buf = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const head = this.pending[0]!;
      const want = n - off;
      if (head.byteLength <= want) {
        buf.set(head, off);
        off += head.byteLength;
        this.pending.shift();
      } else {
        buf.set(head.subarray(0, want), off);
        off += want;
        this.pending[0] = head.subarray(want);
      }
    }
    this.pendingBytes -= n;
    return this.decoder.decode(buf, { stream });
  }
}
