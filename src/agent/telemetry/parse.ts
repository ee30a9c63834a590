/**
 * Parsers for the telemetry's kernel files and the rates between two
 * readings. Pure: text in, numbers out; malformed lines are skipped.
 */

export interface NetCounters {
  rxBytes: number;
  rxErrors: number;
  txBytes: number;
  txErrors: number;
}

/** /proc/net/dev: "  eth0: rxBytes rxPackets rxErrs … (8 rx fields) txBytes txPackets txErrs …". Loopback left out. */
export function parseNetDev(text: string): Map<string, NetCounters> {
  const out = new Map<string, NetCounters>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (!name || name === "lo" || f.length < 16 || f.some((x) => !Number.isFinite(x))) continue;
    out.set(name, { rxBytes: f[0]!, rxErrors: f[2]!, txBytes: f[8]!, txErrors: f[10]! });
  }
  return out;
}

export interface DiskCounters {
  reads: number;
  sectorsRead: number;
  writes: number;
  sectorsWritten: number;
}

/**
 * Whole disks only (a partition's I/O is its disk's too): sdX, vdX, xvdX,
 * hdX, nvmeNnM, mmcblkN, mdN. Loop, RAM and device-mapper devices are left
 * out (they are views of the disks).
 */
export const WHOLE_DISK = /^(?:[shv]d[a-z]+|xvd[a-z]+|nvme\d+n\d+|mmcblk\d+|md\d+)$/;

/** /proc/diskstats: "major minor name reads merged sectorsRead ms writes merged sectorsWritten …" (sectors of 512 bytes). */
export function parseDiskstats(text: string): Map<string, DiskCounters> {
  const out = new Map<string, DiskCounters>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const name = f[2]!;
    if (!WHOLE_DISK.test(name)) continue;
    const n = f.slice(3, 10).map(Number);
    if (n.some((x) => !Number.isFinite(x))) continue;
    out.set(name, { reads: n[0]!, sectorsRead: n[2]!, writes: n[4]!, sectorsWritten: n[6]! });
  }
  return out;
}

export interface ProcStat {
  pid: number;
  comm: string;
  /** utime + stime, in clock ticks. */
  ticks: number;
  rssPages: number;
}

/** /proc/PID/stat; the command name is in parentheses and may hold spaces and parentheses itself. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const f = text.slice(close + 2).trim().split(/\s+/);
  // After the name: state(0) ppid … utime(11) stime(12) … rss(21).
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  const rss = Number(f[21]);
  if (!Number.isInteger(pid) || ![utime, stime, rss].every(Number.isFinite)) return null;
  return { pid, comm: text.slice(open + 1, close), ticks: utime + stime, rssPages: rss };
}

/** The "Uid:" line's real uid of /proc/PID/status, or null. */
export function parseStatusUid(text: string): number | null {
  const m = /^Uid:\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** /etc/passwd: uid → name. */
export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length >= 3 && /^\d+$/.test(f[2]!)) out.set(Number(f[2]), f[0]!);
  }
  return out;
}

/** Per second between two readings of a counter; a counter that went back (a reset, a wrap) counts as 0. */
export function rate(prev: number, cur: number, seconds: number): number {
  return seconds > 0 && cur >= prev ? (cur - prev) / seconds : 0;
}

/** The `n` largest by `key`, largest first (ties by pid). */
export function topBy<T extends { pid: number }>(items: readonly T[], key: (x: T) => number, n: number): T[] {
  return [...items].sort((a, b) => key(b) - key(a) || a.pid - b.pid).slice(0, n);
}
