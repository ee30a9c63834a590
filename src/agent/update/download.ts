/**
 * Fetching the new binary: streamed to a new file (O_EXCL, mode 0700 while
 * it is being written) and hashed on the way (Bun.CryptoHasher), so a
 * 100 MB binary never sits in memory. Bounded in size and time.
 */
import { open, unlink } from "node:fs/promises";
import type { ClientTls } from "../../config/index.ts";
import { errorText } from "../control.ts";

export const DOWNLOAD_BYTES_MAX = 1 << 30;
export const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

export interface Downloaded {
  bytes: number;
  sha256: string;
}

/** Writes the body of GET `url` to `dest` (which must not exist); removes `dest` and throws a readable Error on any failure. */
export async function downloadTo(url: string, dest: string, opts: { token: string | undefined; maxBytes?: number; timeoutMs?: number; signal?: AbortSignal; tls?: ClientTls | undefined }): Promise<Downloaded> {
  const maxBytes = opts.maxBytes ?? DOWNLOAD_BYTES_MAX;
  const headers: Record<string, string> = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
  let res: Response;
  try {
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? DOWNLOAD_TIMEOUT_MS);
    res = await fetch(url, { headers, tls: opts.tls, signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout, redirect: "error" });
  } catch (e) {
    throw new Error(`cannot download ${url}: ${errorText(e)}`);
  }
  if (!res.ok || !res.body) {
    const hint = res.status === 401 || res.status === 403 ? " (the master refused the agent's token)" : res.status === 404 ? " (the master has no binary at that path)" : "";
    await res.body?.cancel().catch(() => {});
    throw new Error(`cannot download ${url}: HTTP ${res.status}${hint}`);
  }
  const fh = await open(dest, "wx", 0o700).catch((e) => {
    throw new Error(`cannot create ${dest}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)} (the agent's user must be able to write the directory of its executable)`);
  });
  const hasher = new Bun.CryptoHasher("sha256");
  let bytes = 0;
  try {
    for await (const chunk of res.body) {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw new Error(`the download is larger than ${maxBytes} bytes; refused`);
      hasher.update(chunk);
      let off = 0;
      while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
    }
    await fh.sync();
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(dest).catch(() => {});
    throw new Error(e instanceof Error && e.message.startsWith("the download") ? e.message : `downloading ${url} failed: ${errorText(e)}`);
  }
  return { bytes, sha256: hasher.digest("hex") };
}
