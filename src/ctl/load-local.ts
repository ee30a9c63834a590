/**
 * `lava ctl load --local [--data-dir D]`: the load table read from the
 * master's shared-memory file on this machine (src/loadtable,
 * docs/history.md), with no HTTP. The rows have the shape of
 * `GET /api/v1/load`, so the table and `--json` are the same as over the API.
 */
import type { ArgsDef } from "citty";
import { LavaError } from "../errors.ts";
import { defaultDataDir, loadConfig } from "../config/index.ts";
import { join, resolve } from "node:path";
import { REPORT_FIELDS } from "../wire/index.ts";
import { LOAD_TABLE_FILE, TableView, readHeader, readRecord, stateAt, type TableHeader, type TableRecord } from "../loadtable/layout.ts";
import { logger } from "../log/index.ts";

export const localArgs = {
  local: { type: "boolean", description: "Read the load table the master on this machine publishes in shared memory (no HTTP; needs read access to <data-dir>/load.table)" },
  "data-dir": { type: "string", description: "With --local: the master's data dir (default: env LAVA_DATA_DIR, else master.dataDir of the config file, else the master's default)", valueHint: "DIR" },
} as const satisfies ArgsDef;

/** Where the master's data dir is: --data-dir, LAVA_DATA_DIR, the config file's master.dataDir, the default. */
export function localDataDir(args: { "data-dir"?: string | undefined; config?: string | undefined }): string {
  if (args["data-dir"]) return resolve(args["data-dir"]);
  const { config } = loadConfig({ role: "master", configFile: args.config });
  return resolve(config.dataDir ?? defaultDataDir());
}

/** A table a master replaced (it grew, or restarted) is opened again; a few times at most. */
const REOPENS_MAX = 5;
/** The master writes the header's heartbeat every second: older than this, it is not running. */
const STALE_MS = 10_000;

export function readLocalLoad(dataDir: string, nowMs = Date.now()): Record<string, unknown>[] {
  const path = join(dataDir, LOAD_TABLE_FILE);
  for (let attempt = 0; attempt < REOPENS_MAX; attempt++) {
    let view: TableView;
    try {
      view = new TableView(Bun.mmap(path, { shared: true }));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new LavaError(`no load table at ${path}: is a master running with --data-dir ${dataDir} (and master.loadTable.enabled)? Give its data dir with --data-dir`, "unreachable");
      if (code === "EACCES" || code === "EPERM") throw new LavaError(`cannot read ${path} (${code}): it is mode 0600; run as the master's user`, "failed");
      throw new LavaError(`cannot map ${path}: ${(e as Error).message}`, "failed");
    }
    const header = readHeader(view);
    if ("error" in header) throw new LavaError(`${path}: ${header.error}`, "failed");
    const rows: Record<string, unknown>[] = [];
    for (let slot = 0; slot < header.count; slot++) {
      const rec = readRecord(view, slot, () => Bun.sleepSync(1));
      if (rec === "busy") throw new LavaError(`${path}: record ${slot} stayed in the middle of a write; try again`, "failed");
      if (rec) rows.push(loadRow(rec, header, nowMs));
    }
    // Replaced while we read: read the new one.
    const after = readHeader(view);
    if (!("error" in after) && after.superseded) continue;
    if (nowMs - header.updatedAtMs > STALE_MS) {
      logger("ctl").warn(`${path} was last updated ${Math.round((nowMs - header.updatedAtMs) / 1000)} s ago by master pid ${header.pid}: is it still running?`);
    }
    return rows.sort((a, b) => (String(a.host) < String(b.host) ? -1 : String(a.host) > String(b.host) ? 1 : 0));
  }
  throw new LavaError(`${path} kept being replaced while it was read; try again`, "failed");
}

/** A record as a row of GET /api/v1/load (docs/api.md). */
export function loadRow(rec: TableRecord, header: TableHeader, nowMs: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    host: rec.hostname,
    hostId: rec.hostId,
    status: stateAt(rec, header, nowMs),
    ageMs: rec.hasReport ? Math.max(0, nowMs - rec.lastReportMs) : null,
  };
  for (const f of REPORT_FIELDS) out[f] = rec.hasReport ? rec.report[f] : null;
  const total = rec.reportsLost + rec.reportsReceived;
  out.lossPct = total === 0 ? 0 : Math.round(((100 * rec.reportsLost) / total) * 100) / 100;
  out.reportsLost = rec.reportsLost;
  out.reportsReceived = rec.reportsReceived;
  return out;
}
