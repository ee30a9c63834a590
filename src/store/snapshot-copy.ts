/**
 * Making a snapshot file: a consistent, compact copy of the database
 * (VACUUM INTO reads one snapshot of it) and which entry it covers. Runs in
 * src/store/snapshot-worker.ts off the event loop, or inline (tests, and a
 * runtime without workers).
 */
import { Database } from "bun:sqlite";
import { META, readMeta } from "./meta.ts";

export interface CopyRequest {
  src: string;
  dst: string;
}

export type CopyResult = { ok: true; index: number; voters: number[] } | { ok: false; error: string };

export function copyDatabase(req: CopyRequest): CopyResult {
  try {
    const db = new Database(req.src, { readonly: true });
    try {
      db.run("PRAGMA busy_timeout = 5000");
      db.run(`VACUUM INTO '${req.dst.replaceAll("'", "''")}'`);
    } finally {
      db.close();
    }
    const copy = new Database(req.dst, { readonly: true });
    try {
      const members = readMeta(copy, META.members);
      return { ok: true, index: Number(readMeta(copy, META.lastApplied) ?? 0), voters: members ? (JSON.parse(members) as { voters: number[] }).voters : [] };
    } finally {
      copy.close();
    }
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** The worker's URL: beside this module from source; beside main in the compiled executable, where every module is bundled into one. */
function workerUrl(): string {
  return import.meta.url.includes("/$bunfs/") ? new URL("./store/snapshot-worker.ts", import.meta.url).href : new URL("./snapshot-worker.ts", import.meta.url).href;
}

/** copyDatabase in a worker thread; one worker per copy (copies are rare and long). */
export function copyDatabaseOffThread(req: CopyRequest, timeoutMs: number): Promise<CopyResult> {
  return new Promise((resolve) => {
    let w: Worker;
    try {
      w = new Worker(workerUrl());
    } catch (e) {
      resolve({ ok: false, error: `cannot start the snapshot worker: ${(e as Error).message}` });
      return;
    }
    const done = (r: CopyResult) => {
      clearTimeout(timer);
      w.terminate();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, error: `the snapshot copy took longer than ${timeoutMs} ms` }), timeoutMs);
    w.onmessage = (e: MessageEvent<CopyResult>) => done(e.data);
    w.onerror = (e) => done({ ok: false, error: `snapshot worker failed: ${(e as ErrorEvent).message ?? "unknown error"}` });
    w.postMessage(req);
  });
}
