/** What is left of a process group, from /proc and kill(2): for tests that must leave no orphans. */
import { readdirSync, readFileSync } from "node:fs";

/** Live (not zombie) processes whose process group is `pgid`, from /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** True once no process (not even a zombie) is left in the group. */
export function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Orphans are reaped by PID 1, which may take a second or two in a container. */
export const GROUP_GONE_MS = 10_000;
