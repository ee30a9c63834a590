/**
 * What the agent keeps about each job process it started, in
 * `<stateDir>/jobs/` (docs/jobs.md "Orphans and double runs").
 *
 * One record per running attempt, in a reused file `slot-N.rec`, mode
 * 0600, written right after the spawn and blanked once the attempt has
 * ended (RecordSlots). Its first line is
 * for the keeper (keeper.ts, a shell script): `PGID STARTTIME GRACE_MS`;
 * the second is JSON for a restarted agent. STARTTIME is field 22 of
 * /proc/PID/stat (clock ticks since boot): a pid the kernel gave to another
 * process since has another start time, so it is never signalled by
 * mistake. A group whose leader has exited but whose members live on
 * keeps its id reserved (the kernel does not reuse a pid while a process
 * group uses it), so such a group is signalled without that check.
 *
 * The start time is read at the job's first look, FIRST_LOOK_MS after the
 * spawn, not at the spawn: the first read of a new process's /proc entry
 * cost ~40 µs of CPU and blocked the agent ~0.3 ms while the child was
 * being exec'd, per job, and most short jobs have ended by then (their
 * record is never read). Until then the record says STARTTIME `-`
 * (START_UNREAD in the JSON), and the group is the job's own: it started a
 * moment ago, and its record is blanked when it ends, long before the
 * kernel could hand its pid out again (pids are given in turn, up to
 * pid_max). So the keeper signals such a group without the check; a
 * restarted agent, which may come much later, checks the leader's start
 * against `startedAt` instead (startedNear).
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export interface JobRecord {
  jobId: number;
  attempt: number;
  pgid: number;
  /** Field 22 of /proc/PGID/stat when it was started; 0 if it could not be read (it had exited already); START_UNREAD until the first look. */
  startTime: number;
  graceMs: number;
  /** ms since the epoch. */
  startedAt: number;
}

const EXT = ".rec";

/** The start time is not read yet (the record's first FIRST_LOOK_MS); `-` on the keeper's line. */
export const START_UNREAD = -1;
/** Clock ticks per second of /proc/PID/stat's times (USER_HZ): 100 on every architecture Linux and Bun share. */
const CLK_TCK = 100;
/** How far the leader's start (boot time + start ticks) may be from the record's startedAt and still be the job's. */
const START_SLACK_MS = 2_000;

export function recordsDir(stateDir: string): string {
  return join(stateDir, "jobs");
}

/** Field 22 (starttime) of a /proc/PID/stat line; null if it is not one. The command name (field 2) may hold spaces and parentheses. */
export function parseStartTime(stat: string): number | null {
  const close = stat.lastIndexOf(")");
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(" ");
  // fields[0] is field 3 (state): starttime, field 22, is fields[19].
  const v = Number(fields[19]);
  return Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** Field 5 (pgrp) of a /proc/PID/stat line. */
export function parsePgrp(stat: string): number | null {
  const close = stat.lastIndexOf(")");
  if (close < 0) return null;
  const v = Number(stat.slice(close + 2).split(" ")[2]);
  return Number.isSafeInteger(v) && v > 0 ? v : null;
}

export function readStartTime(pid: number, procRoot = "/proc"): number | null {
  try {
    return parseStartTime(readFileSync(join(procRoot, String(pid), "stat"), "utf8"));
  } catch {
    return null;
  }
}

export function recordText(r: JobRecord): string {
  return `${r.pgid} ${r.startTime === START_UNREAD ? "-" : r.startTime} ${Math.round(r.graceMs)}\n${JSON.stringify(r)}\n`;
}

/** Boot time in ms since the epoch (`btime` of /proc/stat, whole seconds), or null. */
export function bootTimeMs(procRoot = "/proc"): number | null {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync(join(procRoot, "stat"), "utf8"));
    return m ? Number(m[1]) * 1000 : null;
  } catch {
    return null;
  }
}

/** Whether a process that started `startTicks` after boot started at `startedAt` (ms since the epoch), give or take START_SLACK_MS. */
export function startedNear(startTicks: number, startedAt: number, bootMs: number | null): boolean {
  return bootMs !== null && Math.abs(bootMs + (startTicks * 1000) / CLK_TCK - startedAt) <= START_SLACK_MS;
}

export function parseRecord(text: string): JobRecord | null {
  const json = text.split("\n")[1];
  if (!json) return null;
  try {
    const r = JSON.parse(json) as Partial<JobRecord>;
    const ok = [r.jobId, r.attempt, r.pgid, r.startTime, r.graceMs, r.startedAt].every((x) => typeof x === "number" && Number.isFinite(x));
    return ok ? (r as JobRecord) : null;
  } catch {
    return null;
  }
}

export function ensureRecordsDir(stateDir: string): string {
  const dir = recordsDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * The agent's record files, one per job running at once ("slots"), reused:
 * creating a file costs a journaled metadata write per job (~0.2 ms on
 * ext4), and so does changing its size (ftruncate, ~10 µs a job); rewriting
 * bytes in place costs a few µs. A record is written over the slot's file
 * at offset 0 (the keeper's line first, so a torn write leaves at worst a
 * short first line, which the keeper and readRecords skip), its JSON line
 * padded with spaces to cover whatever the slot held before; it is cleared
 * by writing spaces over it (a blank first line names nothing to the keeper,
 * a blank second line nothing to readRecords). A slot's file never shrinks.
 */
export class RecordSlots {
  private readonly fds: number[] = [];
  /** Bytes each slot's file holds (the longest record it has had). */
  private readonly lens: number[] = [];
  private readonly free: number[] = [];

  constructor(private readonly dir: string) {}

  /** Writes `r` into a free slot; returns the slot to clear when the attempt ends. */
  put(r: JobRecord): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.fds.length;
      this.fds.push(openSync(join(this.dir, `slot-${slot}${EXT}`), "w", 0o600));
      this.lens.push(0);
    }
    try {
      this.write(slot, r);
    } catch (e) {
      this.free.push(slot);
      throw e;
    }
    return slot;
  }

  /** Writes `r` over the record in `slot` (the same attempt, now with its start time). */
  rewrite(slot: number, r: JobRecord): void {
    this.write(slot, r);
  }

  private write(slot: number, r: JobRecord): void {
    const plain = recordText(r);
    const held = this.lens[slot]!;
    // JSON.parse takes trailing spaces: the padding keeps the end of a longer record from showing.
    const text = Buffer.from(plain.length >= held ? plain : `${plain.slice(0, -1)}${" ".repeat(held - plain.length)}\n`);
    writeSync(this.fds[slot]!, text, 0, text.length, 0);
    this.lens[slot] = Math.max(held, text.length);
  }

  clear(slot: number): void {
    try {
      const held = this.lens[slot]!;
      if (held > 0) writeSync(this.fds[slot]!, Buffer.from(`${" ".repeat(held - 1)}\n`), 0, held, 0);
    } finally {
      this.free.push(slot);
    }
  }

  close(): void {
    for (const fd of this.fds.splice(0)) closeSync(fd);
    this.lens.length = 0;
    this.free.length = 0;
  }
}

/** Removes every record file (after a restarted agent has dealt with what they named). */
export function clearRecords(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.endsWith(EXT) || n.endsWith(".tmp")) rmSync(join(dir, n), { force: true });
}

/** Every record in `dir` (empty or unreadable files name nothing, for the keeper either). */
export function readRecords(dir: string): JobRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: JobRecord[] = [];
  for (const n of names) {
    const path = join(dir, n);
    if (n.endsWith(".tmp")) {
      rmSync(path, { force: true });
      continue;
    }
    if (!n.endsWith(EXT)) continue;
    let r: JobRecord | null = null;
    try {
      r = parseRecord(readFileSync(path, "utf8"));
    } catch {
      r = null;
    }
    if (r) out.push(r);
  }
  return out.sort((a, b) => a.jobId - b.jobId || a.attempt - b.attempt);
}

/**
 * Whether the process group a record names is still there and still the
 * one the record means: its leader has the recorded start time (or, its
 * start time unread, started when the record says), or the leader is gone
 * and the group lives on.
 */
export function groupAlive(r: JobRecord, procRoot = "/proc"): boolean {
  const st = readStartTime(r.pgid, procRoot);
  if (st !== null) {
    if (r.startTime === START_UNREAD) return startedNear(st, r.startedAt, bootTimeMs(procRoot));
    return r.startTime !== 0 && st === r.startTime;
  }
  try {
    process.kill(-r.pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
