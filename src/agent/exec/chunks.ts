/**
 * Cutting a stream of output bytes into `command_output` chunks. Pure.
 *
 * Each chunk carries at most CHUNK_BYTES of the command's bytes and never
 * splits a UTF-8 sequence: a sequence cut by a read is held back until its
 * rest arrives; bytes that are not UTF-8 become U+FFFD. Small reads are
 * gathered (the executor flushes on a short timer), so a command writing
 * one byte at a time does not become one message per byte.
 */
export const CHUNK_BYTES = 64 * 1024;
/** The longest UTF-8 sequence: a chunk must hold at least one. */
const SEQUENCE_BYTES_MAX = 4;

const isContinuation = (b: number) => (b & 0xc0) === 0x80;

/** a ‖ b, in a new array. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const all = new Uint8Array(a.byteLength + b.byteLength);
  all.set(a, 0);
  all.set(b, a.byteLength);
  return all;
}

/** Bytes of the UTF-8 sequence a lead byte starts (1 for ASCII and for bytes that cannot lead). */
function sequenceBytes(lead: number): number {
  if (lead >= 0xf0 && lead < 0xf8) return 4;
  if (lead >= 0xe0) return lead < 0xf0 ? 3 : 1;
  if (lead >= 0xc0) return 2;
  return 1;
}

/**
 * The largest end ≤ `cut` that does not split a sequence. Before the end of
 * `buf` that is the start of the sequence at `cut`; at the end of `buf`, a
 * final sequence still missing bytes is left out.
 */
export function utf8Boundary(buf: Uint8Array, cut: number): number {
  if (cut < buf.byteLength) {
    let c = cut;
    while (c > 0 && cut - c < SEQUENCE_BYTES_MAX - 1 && isContinuation(buf[c]!)) c--;
    return c;
  }
  let i = cut - 1;
  let trailing = 0;
  while (i >= 0 && trailing < SEQUENCE_BYTES_MAX - 1 && isContinuation(buf[i]!)) {
    i--;
    trailing++;
  }
  return i >= 0 && trailing + 1 < sequenceBytes(buf[i]!) ? i : cut;
}

export class Utf8Chunker {
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });
  private buf: Uint8Array = new Uint8Array(0);

  constructor(private readonly chunkBytes = CHUNK_BYTES) {
    if (chunkBytes < SEQUENCE_BYTES_MAX) throw new Error(`chunkBytes must be at least ${SEQUENCE_BYTES_MAX}`);
  }

  /** Bytes gathered and not yet returned. */
  get size(): number {
    return this.buf.byteLength;
  }

  /** Adds bytes; returns the full chunks that are ready now. */
  push(bytes: Uint8Array): string[] {
    this.buf = concatBytes(this.buf, bytes);
    const out: string[] = [];
    while (this.buf.byteLength >= this.chunkBytes) out.push(this.take(this.chunkBytes, false));
    return out;
  }

  /** Everything gathered, as one chunk ("" if none); with `end`, also a last sequence still missing bytes (as U+FFFD). */
  flush(end = false): string {
    return this.take(this.buf.byteLength, end);
  }

  private take(n: number, end: boolean): string {
    const cut = end ? n : utf8Boundary(this.buf, n);
    const piece = this.buf.subarray(0, cut);
    this.buf = this.buf.slice(cut);
    return this.decoder.decode(piece);
  }
}
