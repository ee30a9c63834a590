/** /proc/loadavg: "0.52 0.58 0.59 2/1234 56789". */
import { fail, ok, parseCount, snippet, type ProcResult } from "./result.ts";

export interface Loadavg {
  load1: number;
  load5: number;
  load15: number;
  /** Runnable kernel scheduling entities (processes and threads) right now. */
  running: number;
  /** All kernel scheduling entities (processes and threads); reported as procs_total. */
  total: number;
}

const LOAD = /^\d+(?:\.\d+)?$/;

export function parseLoadavg(text: string): ProcResult<Loadavg> {
  // The 5th field (last pid) is ignored, and its absence tolerated.
  const fields = text.trim().split(/\s+/);
  if (fields.length < 4) return fail(`loadavg: expected "load1 load5 load15 running/total lastpid", got ${snippet(text)}`);
  const loads: number[] = [];
  for (const [i, name] of ["load1", "load5", "load15"].entries()) {
    const f = fields[i]!;
    const n = Number(f);
    if (!LOAD.test(f) || !Number.isFinite(n)) return fail(`loadavg: ${name} ${snippet(f)} is not a non-negative number`);
    loads.push(n);
  }
  const parts = fields[3]!.split("/");
  const running = parts.length === 2 ? parseCount(parts[0]!) : null;
  const total = parts.length === 2 ? parseCount(parts[1]!) : null;
  if (running === null || total === null) return fail(`loadavg: 4th field ${snippet(fields[3]!)} is not "running/total"`);
  return ok({ load1: loads[0]!, load5: loads[1]!, load15: loads[2]!, running, total });
}
