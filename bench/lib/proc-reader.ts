#!/usr/bin/env bun
/**
 * The floor for bench/agent.ts: a bare Bun process that reads what the agent
 * reads for one report (/proc/loadavg, /proc/meminfo, /proc/stat) at the
 * same interval, and nothing else: no sockets, no parsing, no modules.
 *
 *   bun bench/lib/proc-reader.ts SECONDS [PROC_ROOT]
 */
import { readFileSync } from "node:fs";

const seconds = Number(process.argv[2] ?? "4");
if (!(seconds > 0)) throw new Error(`interval must be a positive number of seconds, got ${process.argv[2]}`);
const root = process.argv[3] ?? "/proc";
const files = ["loadavg", "meminfo", "stat"].map((f) => `${root}/${f}`);
let bytes = 0;
const tick = () => {
  for (const f of files) bytes += readFileSync(f, "latin1").length;
};
tick();
setInterval(tick, seconds * 1000);
process.on("SIGTERM", () => process.exit(bytes > 0 ? 0 : 1));
