/** Reports whose fields all follow from one counter: a record mixing two writes breaks `isConsistent`. */
import type { LoadReport } from "../../src/wire/index.ts";

export function consistentReport(c: number): LoadReport {
  const pct = c % 50;
  return {
    load1: c,
    load5: c,
    load15: c,
    memUsed: c * 1024,
    memFree: c * 2048,
    swapUsed: c,
    swapFree: c,
    ncpus: 1 + (c % 64),
    cpuUser: pct,
    cpuSys: pct,
    cpuIdle: 100 - 2 * pct,
    jobsRunning: c % 1000,
    jobsPending: c % 1000,
    procsTotal: c,
    flags: 0,
  };
}

export function isConsistent(r: LoadReport): boolean {
  const want = consistentReport(r.load1);
  return (Object.keys(want) as (keyof LoadReport)[]).every((k) => want[k] === r[k]);
}
