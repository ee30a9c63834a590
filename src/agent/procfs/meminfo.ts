/**
 * /proc/meminfo: "Key:   value kB" lines. Values with a kB unit become
 * bytes; unknown keys and malformed lines that are not needed are ignored.
 */
import { fail, ok, parseCount, snippet, type ProcResult } from "./result.ts";

/** All in bytes. */
export interface Meminfo {
  memTotal: number;
  memFree: number;
  /** The kernel's estimate of memory available to new work without swapping; estimated on kernels < 3.14. */
  memAvailable: number;
  buffers: number;
  cached: number;
  swapTotal: number;
  swapFree: number;
}

const KEYS = {
  MemTotal: "memTotal",
  MemFree: "memFree",
  MemAvailable: "memAvailable",
  Buffers: "buffers",
  Cached: "cached",
  SwapTotal: "swapTotal",
  SwapFree: "swapFree",
} as const satisfies Record<string, keyof Meminfo>;

type Key = keyof typeof KEYS;
const isKey = (k: string): k is Key => Object.hasOwn(KEYS, k);

const BYTES_PER_KB = 1024;

export function parseMeminfo(text: string): ProcResult<Meminfo> {
  const seen: Partial<Record<Key, number>> = {};
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    if (!isKey(key) || seen[key] !== undefined) continue; // first occurrence wins
    const m = /^(\d+)(?:\s*(\S+))?$/.exec(line.slice(colon + 1).trim());
    const count = m ? parseCount(m[1]!) : null;
    if (!m || count === null) return fail(`meminfo: ${key} value ${snippet(line.slice(colon + 1))} is not a number`);
    // The kernel prints every key we read in kB; a missing unit is taken as kB too.
    const unit = m[2];
    if (unit !== undefined && unit.toLowerCase() !== "kb") return fail(`meminfo: ${key} has unit ${snippet(unit)}, expected kB`);
    seen[key] = count * BYTES_PER_KB;
  }
  const { MemTotal: memTotal, MemFree: memFree } = seen;
  if (memTotal === undefined) return fail("meminfo: MemTotal missing");
  if (memFree === undefined) return fail("meminfo: MemFree missing");
  const buffers = seen.Buffers ?? 0;
  const cached = seen.Cached ?? 0;
  // Kernels before 3.14 lack MemAvailable: free + buffers + page cache is the
  // classic estimate (it overstates a little: not all cache is reclaimable).
  const memAvailable = seen.MemAvailable ?? Math.min(memTotal, memFree + buffers + cached);
  return ok({
    memTotal,
    memFree,
    memAvailable,
    buffers,
    cached,
    swapTotal: seen.SwapTotal ?? 0,
    swapFree: seen.SwapFree ?? 0,
  });
}
