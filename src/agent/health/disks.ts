/**
 * The edge that reads the mount table and asks the kernel how full each
 * real local filesystem is (fs.statfsSync: a syscall, no disk I/O; a hung
 * NFS mount could block it, which is one more reason network filesystems
 * are skipped). Both the table's path and statfs are injectable, so tests
 * use fixtures.
 */
import { readFileSync, statfsSync } from "node:fs";
import { errorText } from "../control.ts";
import { localFilesystems, parseMounts } from "./mounts.ts";
import { diskUsage, type DiskUsage, type StatfsLike } from "./status.ts";

export type Statfs = (path: string) => StatfsLike;

export interface DiskSource {
  /** The mount table, e.g. /proc/mounts (default: `mounts` under the agent's procRoot). */
  mountsPath: string;
  statfs?: Statfs;
}

export type DiskReading = { mountpoint: string; usage: DiskUsage } | { mountpoint: string; error: string };

/** Every real local filesystem with its use, or why it could not be read; an error string if the table cannot be read. */
export function readDisks(src: DiskSource): DiskReading[] | string {
  let text: string;
  try {
    text = readFileSync(src.mountsPath, "utf8");
  } catch (e) {
    return `cannot read the mount table ${src.mountsPath}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`;
  }
  const statfs = src.statfs ?? ((p: string) => statfsSync(p));
  return localFilesystems(parseMounts(text)).map((m) => {
    try {
      return { mountpoint: m.mountpoint, usage: diskUsage(m.mountpoint, statfs(m.mountpoint)) };
    } catch (e) {
      return { mountpoint: m.mountpoint, error: `statfs ${m.mountpoint}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}` };
    }
  });
}

/** The fullest filesystem's use in percent (the `disk` alert metric), or null if none could be read. */
export function fullestDiskPercent(readings: DiskReading[] | string): number | null {
  if (typeof readings === "string") return null;
  let max: number | null = null;
  for (const r of readings) if ("usage" in r) max = Math.max(max ?? 0, r.usage.usedPercent);
  return max;
}
