/**
 * The master's data dir before anything is opened in it: created 0700, every
 * file the master makes in it private (umask 077: lava.db and its -wal and
 * -shm, snapshots, the run file), older files tightened, and a refusal to
 * start a new, empty state in a dir that held one before.
 *
 * Why the refusal: the cluster secret signs every token, and the list of
 * revoked tokens lives in lava.db. A master whose lava.db went missing (a
 * botched restore, a disk swap, someone's `rm`) would otherwise start a new
 * cluster state on the old secret, in which every revoked token works again
 * and every host and job is forgotten, silently.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DB_FILE } from "../store/index.ts";
import { LavaError } from "../errors.ts";

/** Files that exist only once a master has run in a data dir (written at its first start). */
const USED_MARKERS = ["admin.token"];

export interface DataDirCheck {
  /** Things an operator should fix, logged as warnings. */
  warnings: string[];
}

export function prepareDataDir(dataDir: string, opts: { reinit: boolean; secretExisted: boolean }): DataDirCheck {
  // Before the first file: every file and directory the master creates from here on is private.
  process.umask(0o077);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new LavaError(`cannot create data dir ${dataDir}: ${(e as Error).message}; choose another with --data-dir`, "usage");
  }
  const warnings: string[] = [];
  const mode = statSync(dataDir).mode & 0o777;
  if (mode & 0o077) warnings.push(`data dir ${dataDir} is readable by other users (mode ${mode.toString(8)}): it holds the cluster's state and tokens; run chmod 700 ${dataDir}`);
  const db = join(dataDir, DB_FILE);
  for (const f of [db, `${db}-wal`, `${db}-shm`]) {
    if (!existsSync(f)) continue;
    const m = statSync(f).mode & 0o777;
    if (m & 0o077) {
      chmodSync(f, 0o600);
      warnings.push(`${f} was mode ${m.toString(8)}; set it to 600`);
    }
  }
  const dbEmpty = !existsSync(db) || statSync(db).size === 0;
  const used = opts.secretExisted && USED_MARKERS.some((m) => existsSync(join(dataDir, m)));
  if (dbEmpty && used && !opts.reinit) {
    throw new LavaError(
      `${db} is ${existsSync(db) ? "empty" : "missing"}, but ${dataDir} was used by a master before (it has the cluster secret and ${USED_MARKERS.join(", ")}). ` +
        `Starting now would make a new, empty state on the old secret, in which revoked tokens work again and every host and job is forgotten. ` +
        `Restore lava.db from a backup (docs/operations.md "Backup and restore"); in a cluster of masters, remove this master (lava ctl cluster remove ID), empty its data dir and add it back; ` +
        `or start once with --reinit to begin with empty state on purpose`,
      "usage",
    );
  }
  return { warnings };
}
