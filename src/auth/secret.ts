/**
 * The cluster secret on disk (design §6, §7): `<data-dir>/secret`, base64 of
 * 32 random bytes, mode 0600, shared by every master of a cluster. This is
 * the I/O edge of auth; everything derived from the secret is in keys.ts.
 *
 * Files are written atomically (tmp file, fsync, rename, fsync the
 * directory) so a crash leaves either no file or a whole one, never a
 * truncated secret that would lock every agent out. A data dir belongs to
 * one master process; concurrent creators of the same file are not handled.
 */
import { Buffer } from "node:buffer";
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from "node:fs";
import { dirname } from "node:path";
import { LavaError } from "../errors.ts";
import { SECRET_BYTES_MIN } from "./keys.ts";

/** Size of a newly created secret. */
export const SECRET_BYTES = 32;
/** A secret file is one base64 line; anything larger is not one. */
const SECRET_FILE_BYTES_MAX = 4096;
const PRIVATE_MODE = 0o600;

/** A secret or private file that cannot be read, parsed or written. Exit code 2, like a config error. */
export class SecretFileError extends LavaError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message, "usage");
    this.name = "SecretFileError";
  }
}

export interface LoadedSecret {
  secret: Uint8Array;
  /** True when this call created the file (first start of a new cluster). */
  created: boolean;
  /** Set when the existing file is readable by group or others; the caller logs it. */
  warning?: string;
}

/**
 * Reads the cluster secret at `path`, or creates it (32 random bytes, mode
 * 0600) when the file does not exist. A file that exists but is not a
 * valid secret throws SecretFileError: it is never replaced, since a new
 * secret would invalidate every token and session of the cluster.
 */
export function loadOrCreateSecret(path: string): LoadedSecret {
  const st = statOrThrow(path);
  if (st === undefined) {
    const secret = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
    writePrivateFile(path, Buffer.from(secret).toString("base64") + "\n");
    return { secret, created: true };
  }

  const fix = "restore it from another master, or delete it to create a new cluster secret (all tokens become invalid)";
  if (!st.isFile()) throw new SecretFileError(`cluster secret ${path} is not a regular file; ${fix}`, path);
  if (st.size > SECRET_FILE_BYTES_MAX) {
    throw new SecretFileError(`cluster secret ${path} is ${st.size} bytes, not a base64 secret; ${fix}`, path);
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new SecretFileError(`cannot read cluster secret ${path} (${errorCode(e)}); check its owner and permissions`, path);
  }
  const secret = decodeBase64(text.trim());
  if (secret === undefined || secret.length < SECRET_BYTES_MIN) {
    throw new SecretFileError(
      `cluster secret ${path} is not base64 of at least ${SECRET_BYTES_MIN} bytes; ${fix}`,
      path,
    );
  }
  const mode = st.mode & 0o777;
  if ((mode & 0o077) === 0) return { secret, created: false };
  return {
    secret,
    created: false,
    warning: `cluster secret ${path} has mode ${mode.toString(8).padStart(4, "0")}, readable by other users; run: chmod 600 ${path}`,
  };
}

/**
 * Writes `text` to `path` atomically with mode 0600 (used for the secret
 * and `admin.token`), creating the parent directory (mode 0700) if needed.
 * Replaces an existing file.
 */
export function writePrivateFile(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // A stale tmp from a crash could carry a wider mode; start fresh ("wx").
    unlinkIfPresent(tmp);
    const fd = openSync(tmp, "wx", PRIVATE_MODE);
    try {
      // The umask only narrows open()'s mode; set it exactly, before any byte is written.
      fchmodSync(fd, PRIVATE_MODE);
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    chmodSync(path, PRIVATE_MODE);
    fsyncDir(dirname(path));
  } catch (e) {
    try {
      unlinkIfPresent(tmp);
    } catch {
      // Keep the original error; a leftover tmp is removed by the next write.
    }
    throw new SecretFileError(
      `cannot write ${path} (${errorCode(e)}); check that its directory is writable by this user`,
      path,
    );
  }
}

// unlinkSync, not rmSync({force}): Bun's rmSync reports EFAULT for a path under a non-directory.
function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errorCode(e) !== "ENOENT") throw e;
  }
}

/** Makes the rename durable. Best effort: some platforms cannot fsync a directory. */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Not fatal: the file itself is already synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function statOrThrow(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    throw new SecretFileError(`cannot access cluster secret ${path} (${errorCode(e)}); check the path and its permissions`, path);
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Strict standard base64 (Buffer's decoder silently skips bad characters). */
function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text) || text.length % 4 !== 0) return undefined;
  return new Uint8Array(Buffer.from(text, "base64"));
}

function errorCode(e: unknown): string {
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") return e.code;
  return e instanceof Error ? e.message : String(e);
}
