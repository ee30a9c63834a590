/**
 * The master's own executable, which it hands to agents for self-update
 * (GET /api/v1/agent/binary). Only a compiled `lava` can be handed out:
 * running from source, process.execPath is the Bun runtime, not lava.
 * The sha256 is computed on first use and kept while the file's size and
 * mtime stay the same.
 */
import { statSync } from "node:fs";

export interface SelfBinary {
  path: string;
  compiled: boolean;
}

/** Compiled executables run their entry point from Bun's embedded file system. */
export function selfBinary(): SelfBinary {
  return { path: process.execPath, compiled: Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/") };
}

export const FROM_SOURCE =
  "this master runs from source (bun src/main.ts), so it has no lava executable to hand to agents; run the compiled binary (bun run build → dist/lava) as the master to upgrade agents";

export class BinaryDigest {
  private cached: { key: string; sha256: Promise<string> } | null = null;

  constructor(readonly path: string) {}

  /** Size in bytes and the hex sha256 of the file as it is now. */
  async describe(): Promise<{ sizeBytes: number; sha256: string }> {
    const st = statSync(this.path);
    const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
    if (this.cached?.key !== key) {
      const sha256 = hashFile(this.path);
      this.cached = { key, sha256 };
      sha256.catch(() => {
        if (this.cached?.sha256 === sha256) this.cached = null;
      });
    }
    return { sizeBytes: st.size, sha256: await this.cached.sha256 };
  }
}

async function hashFile(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}
