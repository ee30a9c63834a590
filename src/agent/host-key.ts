/**
 * The agent's host key and session token on disk (docs/security.md): the
 * Ed25519 key pair that proves this host's identity when it registers
 * (created on first start), and the session token the master handed out
 * (so a restart within its hour needs no join token). Both live in the
 * state directory (mode 0700), each file mode 0600.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { exportHostKey, generateHostKey, hostKeyFingerprint, importHostKey, writePrivateFile, type HostKey } from "../auth/index.ts";
import { logger } from "../log/index.ts";

const log = logger("agent");

export const HOST_KEY_FILE = "host.key";
export const SESSION_TOKEN_FILE = "session.token";
const PEM_LABEL = "PRIVATE KEY";

/** Creates the state directory (0700) if needed and tightens it if it is wider. */
export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if (mode & 0o077) {
    chmodSync(dir, 0o700);
    log.warn(`state directory ${dir} was mode ${mode.toString(8)}; set to 0700`);
  }
}

/** Loads the host key from `dir`, creating it on first start. Throws with what to do when the file is unusable. */
export async function loadOrCreateHostKey(dir: string): Promise<HostKey & { fingerprint: string; created: boolean }> {
  ensureStateDir(dir);
  const path = join(dir, HOST_KEY_FILE);
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      chmodSync(path, 0o600);
      log.warn(`host key ${path} was mode ${mode.toString(8)}; set to 0600`);
    }
    const pem = readFileSync(path, "utf8");
    const b64 = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
    try {
      const key = await importHostKey(new Uint8Array(Buffer.from(b64, "base64")));
      return { ...key, fingerprint: hostKeyFingerprint(key.publicRaw), created: false };
    } catch (e) {
      throw new Error(`cannot read the host key ${path} (${(e as Error).message}); restore it from a backup, or delete it to create a new one (then an admin runs 'lava ctl host reset-key HOST')`);
    }
  }
  const pair = await generateHostKey();
  const { pkcs8, publicRaw } = await exportHostKey(pair);
  const lines = Buffer.from(pkcs8).toString("base64").match(/.{1,64}/g) ?? [];
  writePrivateFile(path, `-----BEGIN ${PEM_LABEL}-----\n${lines.join("\n")}\n-----END ${PEM_LABEL}-----\n`);
  const fingerprint = hostKeyFingerprint(publicRaw);
  log.info(`created host key ${path} (${fingerprint})`);
  return { privateKey: pair.privateKey, publicRaw, fingerprint, created: true };
}

/** The session token kept from the last registration, or null. */
export function readSessionToken(dir: string): string | null {
  try {
    const t = readFileSync(join(dir, SESSION_TOKEN_FILE), "utf8").trim();
    return t && t.length < 4096 ? t : null;
  } catch {
    return null;
  }
}

export function writeSessionToken(dir: string, token: string | null): void {
  const path = join(dir, SESSION_TOKEN_FILE);
  try {
    if (token === null) {
      if (existsSync(path)) unlinkSync(path);
    } else writePrivateFile(path, `${token}\n`);
  } catch (e) {
    // Not fatal: the agent still holds it in memory; a restart then uses the join token.
    log.warn(`cannot keep the session token in ${path}: ${(e as Error).message}`);
  }
}
