import { afterEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Something a test started that ends with stop() (agents, processes) or close() (raw WebSocket clients). */
type Client = { stop(): unknown } | { close(): unknown };
/** A master or a cluster of them: stopped, then its data dirs removed. */
interface Server {
  stop(): Promise<unknown>;
  cleanup(): void;
}

/**
 * Ends what a test file started, in the order that loses nothing: clients
 * first (an agent that outlives its master only reconnects in vain), then
 * the masters, one after the other, then the test's work dir. Entries may
 * be undefined or null (a beforeAll that failed half-way).
 */
export async function teardown(t: { clients?: readonly (Client | undefined | null)[]; masters?: readonly (Server | undefined | null)[]; work?: string }): Promise<void> {
  await Promise.all((t.clients ?? []).map((c) => (c == null ? undefined : "stop" in c ? c.stop() : c.close())));
  for (const m of t.masters ?? []) {
    await m?.stop();
    m?.cleanup();
  }
  if (t.work) rmSync(t.work, { recursive: true, force: true });
}

/**
 * A maker of temp dirs for the tests of one file (call it at the file's top
 * level): each dir is removed after the test that made it.
 */
export function scratchDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}
