/**
 * Bytes of a log into lines, and where the last N lines of a file start.
 * Pure.
 *
 * Lines are what ends in '\n' (not included). A line longer than
 * LINE_BYTES_MAX is sent in pieces of at most that many bytes, cut at UTF-8
 * character boundaries; so what the splitter holds back for an unfinished
 * line is bounded too. Each line is decoded on its own, lossy (bytes that
 * are not UTF-8 become U+FFFD).
 */
import { concatBytes, utf8Boundary } from "../exec/index.ts";

export const LINE_BYTES_MAX = 64 * 1024;
const NL = 0x0a;

export class LineSplitter {
  private pending: Uint8Array = new Uint8Array(0);
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(private readonly maxBytes = LINE_BYTES_MAX) {
    if (maxBytes < 4) throw new Error("maxBytes must hold one UTF-8 sequence (4 bytes)");
  }

  /** Bytes held for a line not finished yet. */
  get pendingBytes(): number {
    return this.pending.byteLength;
  }

  push(bytes: Uint8Array): string[] {
    const buf = concatBytes(this.pending, bytes);
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(NL, start);
      const end = nl < 0 ? buf.byteLength : nl;
      while (end - start > this.maxBytes) {
        // Inside buf (end - start > maxBytes), so this backs off at most 3 bytes: every piece holds something.
        const c = utf8Boundary(buf, start + this.maxBytes);
        out.push(this.decoder.decode(buf.subarray(start, c)));
        start = c;
      }
      if (nl < 0) break;
      out.push(this.decoder.decode(buf.subarray(start, nl)));
      start = nl + 1;
    }
    this.pending = buf.slice(start);
    return out;
  }

  /** The unfinished last line, if any (at the end of the stream). */
  end(): string[] {
    const rest = this.pending;
    this.pending = new Uint8Array(0);
    return rest.byteLength > 0 ? [this.decoder.decode(rest)] : [];
  }

  /** Forgets the unfinished line (the file was truncated or replaced). */
  reset(): void {
    this.pending = new Uint8Array(0);
  }
}

/**
 * Where the last `n` lines of `buf` start. `buf` is the end of a file;
 * `atFileStart` says whether it is the whole file. An unfinished last line
 * counts as a line. When `buf` starts in the middle of the file and holds
 * fewer than `n` line ends, the tail starts after its first '\n' (the
 * partial line before it is not shown).
 */
export function tailStart(buf: Uint8Array, n: number, atFileStart: boolean): number {
  if (n <= 0) return buf.byteLength;
  // A '\n' as the very last byte ends the last line; it does not start another.
  let i = buf.byteLength - 1;
  if (i >= 0 && buf[i] === NL) i--;
  let found = 0;
  for (; i >= 0; i--) {
    if (buf[i] === NL && ++found === n) return i + 1;
  }
  if (atFileStart) return 0;
  const first = buf.indexOf(NL);
  return first < 0 ? buf.byteLength : first + 1;
}
