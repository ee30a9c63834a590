/** A store with a solo command log in a temp dir, closed and removed after each test. */
import { afterEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type OpenedStore } from "../../src/store/index.ts";
import { openSoloLog, type SoloLog } from "../../src/master/raft/solo.ts";

const open: { dir: string; store: OpenedStore; log: SoloLog }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) {
    o.log.stop();
    o.store.sqlite.close();
    rmSync(o.dir, { recursive: true, force: true });
  }
});

export function storeWithLog(prefix = "lava-store-"): { s: OpenedStore; clog: SoloLog } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = openStore(dir);
  const log = openSoloLog(store);
  open.push({ dir, store, log });
  return { s: store, clog: log };
}
