import { exitStatusOf } from "../../src/main.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateSecret, newTokenId, SecretFileError, writePrivateFile } from "../../src/auth/index.ts";

const dir = mkdtempSync(join(tmpdir(), "lava-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A fresh path in the temp dir for each test. */
const fresh = (name = "secret") => join(dir, `${n++}-${name}`);
const modeOf = (p: string) => statSync(p).mode & 0o777;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function secretErrorOf(fn: () => unknown): SecretFileError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SecretFileError) return e;
    throw e;
  }
  throw new Error("expected a SecretFileError");
}

describe("loadOrCreateSecret", () => {
  test("creates a 32-byte secret, base64 with a newline, mode 0600", () => {
    const path = fresh();
    const r = loadOrCreateSecret(path);
    expect(r.created).toBe(true);
    expect(r.warning).toBeUndefined();
    expect(r.secret.length).toBe(32);
    expect(modeOf(path)).toBe(0o600);
    expect(readFileSync(path, "utf8")).toBe(`${Buffer.from(r.secret).toString("base64")}\n`);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  test("a second call returns the same bytes with created false", () => {
    const path = fresh();
    const first = loadOrCreateSecret(path);
    const second = loadOrCreateSecret(path);
    expect(second.created).toBe(false);
    expect(second.warning).toBeUndefined();
    expect(hex(second.secret)).toBe(hex(first.secret));
  });

  test("two new clusters get different secrets", () => {
    expect(hex(loadOrCreateSecret(fresh()).secret)).not.toBe(hex(loadOrCreateSecret(fresh()).secret));
  });

  test("the file is 0600 even under a permissive umask", () => {
    const old = process.umask(0);
    try {
      const path = fresh();
      loadOrCreateSecret(path);
      expect(modeOf(path)).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  test("creates a missing parent directory", () => {
    const path = join(fresh("dir"), "nested", "secret");
    expect(loadOrCreateSecret(path).created).toBe(true);
    expect(modeOf(path)).toBe(0o600);
  });

  test("a stale world-readable tmp file from a crash does not widen the mode", () => {
    const path = fresh();
    writeFileSync(`${path}.tmp`, "half-written", { mode: 0o644 });
    chmodSync(`${path}.tmp`, 0o644);
    loadOrCreateSecret(path);
    expect(modeOf(path)).toBe(0o600);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  test("an operator-written secret is read: trailing newline or CRLF tolerated, longer than 32 bytes accepted", () => {
    const bytes = Uint8Array.from({ length: 48 }, (_, i) => i * 3);
    for (const ending of ["", "\n", "\r\n", "\n\n"]) {
      const path = fresh();
      writePrivateFile(path, Buffer.from(bytes).toString("base64") + ending);
      const r = loadOrCreateSecret(path);
      expect(r.created).toBe(false);
      expect(hex(r.secret)).toBe(hex(bytes));
    }
  });

  test("a corrupt file throws naming the file and the fix, and is left untouched", () => {
    for (const content of [
      "not base64 at all!!\n",
      "",
      "\n",
      Buffer.from(new Uint8Array(16)).toString("base64"), // too short
      Buffer.from(new Uint8Array(32)).toString("base64url").replace(/=+$/, "") + "_-", // base64url, not base64
      "AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA",
    ]) {
      const path = fresh();
      writeFileSync(path, content, { mode: 0o600 });
      const e = secretErrorOf(() => loadOrCreateSecret(path));
      expect(e.message).toContain(path);
      expect(e.message).toContain("restore it from another master");
      expect(e.message).toContain("delete it");
      expect(e.path).toBe(path);
      expect(exitStatusOf(e)).toBe(2);
      expect(readFileSync(path, "utf8")).toBe(content);
    }
  });

  test("an oversized file throws naming the file", () => {
    const path = fresh();
    writeFileSync(path, "A".repeat(100_000), { mode: 0o600 });
    expect(secretErrorOf(() => loadOrCreateSecret(path)).message).toContain(path);
  });

  test("a directory in place of the file throws naming it", () => {
    const path = fresh();
    mkdirSync(path);
    expect(secretErrorOf(() => loadOrCreateSecret(path)).message).toContain(`${path} is not a regular file`);
  });

  test("a 0644 file gives a warning naming the file and the chmod fix", () => {
    const path = fresh();
    const { secret } = loadOrCreateSecret(path);
    chmodSync(path, 0o644);
    const r = loadOrCreateSecret(path);
    expect(r.created).toBe(false);
    expect(hex(r.secret)).toBe(hex(secret));
    expect(r.warning).toContain(path);
    expect(r.warning).toContain("0644");
    expect(r.warning).toContain(`chmod 600 ${path}`);
    // Warned, not changed: the operator decides.
    expect(modeOf(path)).toBe(0o644);
  });

  test("a group-only readable file (0640) also warns", () => {
    const path = fresh();
    loadOrCreateSecret(path);
    chmodSync(path, 0o640);
    expect(loadOrCreateSecret(path).warning).toContain("0640");
  });
});

describe("writePrivateFile", () => {
  test("writes the text with mode 0600 and replaces an existing file", () => {
    const path = fresh("admin.token");
    writePrivateFile(path, "first\n");
    expect(readFileSync(path, "utf8")).toBe("first\n");
    expect(modeOf(path)).toBe(0o600);
    chmodSync(path, 0o644);
    writePrivateFile(path, "second\n");
    expect(readFileSync(path, "utf8")).toBe("second\n");
    expect(modeOf(path)).toBe(0o600);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  test("a path that cannot be written throws naming it, and leaves no tmp file", () => {
    const blocker = fresh("file");
    writeFileSync(blocker, "x");
    const path = join(blocker, "admin.token"); // parent is a regular file
    const e = secretErrorOf(() => writePrivateFile(path, "t"));
    expect(e.message).toContain(path);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });
});

describe("newTokenId", () => {
  test("32 lowercase hex characters, different each call", () => {
    const ids = Array.from({ length: 100 }, newTokenId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(100);
  });
});
