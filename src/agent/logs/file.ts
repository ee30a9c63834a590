/**
 * Tailing one file (`stream_logs` with a path): the last N lines, then, when
 * following, what is appended, found by polling the file's size every
 * `pollMs` (no inotify: it works the same on every file system, NFS
 * included, and one stat per poll per stream is cheap).
 *
 * - Truncated in place (copytruncate: the size fell below what was read,
 *   or the last bytes read are no longer there: truncated and refilled
 *   past the old size between two polls): read again from the start, after
 *   a marker line.
 * - Replaced (rename-and-create rotation, the name now names another file):
 *   the rest of the old file is read, then the new one from its start,
 *   after a marker line. The new file must pass the policy again (its real
 *   path); while the name names no file, the old one is still followed.
 * - Each poll reads at most POLL_BYTES_MAX; the rest comes at the next one.
 */
import { constants } from "node:fs";
import { open, realpath, stat, type FileHandle } from "node:fs/promises";
import { concatBytes } from "../exec/index.ts";
import { LineSplitter, tailStart } from "./lines.ts";
import type { LogSink } from "./sink.ts";

/** The initial tail reads at most this much of the file's end (fewer lines than asked if they are longer). */
export const TAIL_BYTES_MAX = 4 << 20;
export const POLL_BYTES_MAX = 1 << 20;
export const POLL_MS = 250;
/** The last bytes read, compared on each poll to notice a file truncated and refilled between two polls. */
const FINGERPRINT_BYTES = 64;

export interface FileTailOptions {
  /** The real path, already allowed. */
  realPath: string;
  /** The path as requested, looked up again to notice a rotation. */
  requested: string;
  lines: number;
  follow: boolean;
  pollMs?: number;
  signal: AbortSignal;
  /** Whether a real path may be read (checked again when the file is replaced). */
  allowed: (realPath: string) => boolean;
  sink: LogSink;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

async function readRange(fh: FileHandle, from: number, bytes: number): Promise<Uint8Array> {
  const buf = new Uint8Array(bytes);
  let got = 0;
  while (got < bytes) {
    const { bytesRead } = await fh.read(buf, got, bytes - got, from + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * Opens a regular file for reading. O_NONBLOCK, so that a FIFO put in its
 * place cannot hang the agent in open(2); for a regular file it changes
 * nothing.
 */
export async function openRegular(path: string): Promise<FileHandle> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const st = await fh.stat().catch(async (e) => {
    await fh.close();
    throw e;
  });
  if (!st.isFile()) {
    await fh.close();
    throw new Error(`${path} is not a regular file`);
  }
  return fh;
}

/** The file the name now leads to, if it is another file than `ino`/`dev` (a rotation); null while unchanged or missing. */
async function replacement(requested: string, dev: number, ino: number): Promise<string | null> {
  try {
    const st = await stat(requested);
    if (st.ino === ino && st.dev === dev) return null;
    return await realpath(requested);
  } catch {
    return null;
  }
}

/** The last FINGERPRINT_BYTES of a ‖ b. */
function concatTail(a: Uint8Array, b: Uint8Array): Uint8Array {
  const all = concatBytes(a, b);
  return all.slice(Math.max(0, all.byteLength - FINGERPRINT_BYTES));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

/** Resolves when done (not following: after the tail), stopped (the signal), or throws with what went wrong. */
export async function tailFile(o: FileTailOptions): Promise<void> {
  const pollMs = o.pollMs ?? POLL_MS;
  const splitter = new LineSplitter();
  let fh = await openRegular(o.realPath);
  try {
    let st = await fh.stat();
    const from = Math.max(0, st.size - TAIL_BYTES_MAX);
    const buf = await readRange(fh, from, st.size - from);
    let offset = from + buf.byteLength;
    let fingerprint: Uint8Array = buf.slice(Math.max(0, buf.byteLength - FINGERPRINT_BYTES));
    let seenSize = st.size;
    await o.sink.pushWaiting(splitter.push(buf.subarray(tailStart(buf, o.lines, from === 0))));
    if (!o.follow) {
      await o.sink.pushWaiting(splitter.end());
      return;
    }
    while (!o.signal.aborted) {
      await sleep(pollMs, o.signal);
      if (o.signal.aborted) break;
      st = await fh.stat();
      const rewritten = st.size !== seenSize && st.size >= offset && !sameBytes(await readRange(fh, offset - fingerprint.byteLength, fingerprint.byteLength), fingerprint);
      seenSize = st.size;
      if (st.size < offset || rewritten) {
        splitter.reset();
        offset = 0;
        fingerprint = new Uint8Array(0);
        o.sink.push([`[lava: ${o.requested} was truncated; reading it from its start]`]);
      }
      if (st.size > offset) {
        const chunk = await readRange(fh, offset, Math.min(POLL_BYTES_MAX, st.size - offset));
        offset += chunk.byteLength;
        fingerprint = chunk.byteLength >= FINGERPRINT_BYTES ? chunk.slice(chunk.byteLength - FINGERPRINT_BYTES) : concatTail(fingerprint, chunk);
        o.sink.push(splitter.push(chunk));
        if (offset < st.size) continue; // more to read: the next poll reads on
      }
      const next = await replacement(o.requested, st.dev, st.ino);
      if (next === null) continue;
      if (!o.allowed(next)) throw new Error(`${o.requested} was replaced by ${next}, which agent.logs.allow does not allow; stopped following`);
      o.sink.push([...splitter.end(), `[lava: ${o.requested} was replaced (rotated); following the new file]`]);
      await fh.close();
      fh = await openRegular(next);
      offset = 0;
      seenSize = 0;
      fingerprint = new Uint8Array(0);
    }
  } finally {
    await fh.close().catch(() => {});
  }
}
