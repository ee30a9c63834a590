/**
 * Files the master maps into memory (Bun.mmap, MAP_SHARED): the load
 * history and the shared-memory load table. Both hold state, so both are
 * mode 0600 (docs/history.md).
 *
 * Two rules keep a mapping from killing the process with SIGBUS:
 * - a mapped file is never truncated below what is mapped (it only grows,
 *   or a new file replaces it by rename, leaving the old inode to whoever
 *   still maps it);
 * - a page is allocated by write(2) before it is written through the
 *   mapping, so a full disk is an ENOSPC this code catches, not a signal
 *   (writing a hole of a sparse file through a mapping on a full disk is
 *   SIGBUS).
 */
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

export const PRIVATE_FILE_MODE = 0o600;

/** Opens (creating) `path` for reading and writing with mode 0600, whatever mode it had. */
export function openPrivate(path: string): { fd: number; size: number } {
  // Read-write, created if missing, never truncated, and not O_APPEND ("a+"): with O_APPEND, Linux
  // ignores pwrite's offset and appends, so writeZeros would grow the file instead of allocating a block.
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, PRIVATE_FILE_MODE);
  try {
    const st = fstatSync(fd);
    if ((st.mode & 0o777) !== PRIVATE_FILE_MODE) fchmodSync(fd, PRIVATE_FILE_MODE);
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Makes the file at least `bytes` long (a hole: no disk used until written). */
export function ensureSize(fd: number, bytes: number): void {
  if (fstatSync(fd).size < bytes) ftruncateSync(fd, bytes);
}

const ZEROS = new Uint8Array(1 << 20);

/** Writes zeros over [offset, offset + length): the pages are then allocated (throws ENOSPC on a full disk). */
export function writeZeros(fd: number, offset: number, length: number): void {
  let done = 0;
  while (done < length) {
    const n = Math.min(ZEROS.length, length - done);
    done += writeSync(fd, ZEROS, 0, n, offset + done);
  }
}

/** Maps the whole file, shared: what this process writes, the file (and every other mapping of it) has. */
export function mapFile(path: string): Uint8Array {
  return Bun.mmap(path, { shared: true });
}

/** A new file of `bytes` zeros (allocated), mode 0600, mapped; `path` is replaced if it exists. */
export function createMapped(path: string, bytes: number): Uint8Array {
  rmSync(path, { force: true });
  const { fd } = openPrivate(path);
  try {
    writeZeros(fd, 0, bytes);
  } finally {
    closeSync(fd);
  }
  return mapFile(path);
}

/** Moves an unusable file aside (`<path>.old`, replacing an older one) so a new one can be made. */
export function moveAside(path: string): string {
  const old = `${path}.old`;
  rmSync(old, { force: true });
  renameSync(path, old);
  return old;
}
