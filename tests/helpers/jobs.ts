/**
 * Helpers for job tests against the compiled binary: submit and read jobs
 * through `lava ctl`, and see which job processes run on this machine
 * (their LAVA_JOB_ID and LAVA_JOB_ATTEMPT, read from /proc/PID/environ).
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { runLava, type RunResult } from "./binary.ts";
import type { TestMaster } from "./cluster.ts";
import { waitFor } from "./wait.ts";

export type Job = {
  id: number;
  state: string;
  host: string | null;
  exitCode: number | null;
  attempts: number;
  reason: string | null;
  waiting: string | null;
  startedAt: string | null;
  stdout?: string | null;
  stderr?: string | null;
  history?: { state: string; host: string | null; reason: string | null; attempt: number }[];
  [k: string]: unknown;
};

export interface JobClient {
  ctl(args: string[], env?: Record<string, string>): Promise<RunResult>;
  submit(args: string[]): Promise<number>;
  job(id: number | string): Promise<Job>;
  until(id: number | string, pred: (j: Job) => boolean, ms?: number, what?: string): Promise<Job>;
}

export function jobClient(master: () => TestMaster | { addr: string; adminToken: string; api: TestMaster["api"] }): JobClient {
  const ctl = (args: string[], env: Record<string, string> = {}) => runLava(["ctl", ...args], { env: { LAVA_MASTER: master().addr, LAVA_TOKEN: master().adminToken, ...env } });
  const job = async (id: number | string) => (await master().api<Job>(`/api/v1/jobs/${encodeURIComponent(String(id))}`)).body;
  return {
    ctl,
    async submit(args) {
      const r = await ctl(["submit", ...args]);
      if (r.code !== 0) throw new Error(`submit failed (${r.code}): ${r.stderr}`);
      return Number(r.stdout);
    },
    job,
    until: (id, pred, ms = 15_000, what = `job ${id}`) =>
      waitFor(
        async () => {
          const j = await job(id);
          return pred(j) ? j : null;
        },
        ms,
        what,
        50,
      ),
  };
}

export interface JobProc {
  pid: number;
  jobId: number;
  attempt: number;
  arrayId: number | null;
}

/** Every live process on this machine that belongs to a lava job (zombies have no environment, so they are not listed). */
export function jobProcs(): JobProc[] {
  const out: JobProc[] = [];
  for (const n of readdirSync("/proc")) {
    if (!/^\d+$/.test(n)) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${n}/environ`, "latin1");
    } catch {
      continue;
    }
    if (!env.includes("LAVA_JOB_ID=")) continue;
    const get = (k: string) => {
      const m = new RegExp(`(?:^|\\0)${k}=([^\\0]*)`).exec(env);
      return m ? m[1]! : null;
    };
    const id = Number(get("LAVA_JOB_ID"));
    if (!Number.isInteger(id)) continue;
    const arr = get("LAVA_ARRAY_JOB_ID");
    out.push({ pid: Number(n), jobId: id, attempt: Number(get("LAVA_JOB_ATTEMPT")), arrayId: arr === null ? null : Number(arr) });
  }
  return out;
}

/** A /proc fixture like writeProcFixture's, with `ncpus` CPUs (so a host can run many jobs at once). */
export function procWithCpus(dir: string, ncpus: number): string {
  mkdirSync(join(dir, "net"), { recursive: true });
  writeFileSync(join(dir, "loadavg"), "0.10 0.10 0.10 2/345 6789\n");
  writeFileSync(join(dir, "meminfo"), "MemTotal:       64000000 kB\nMemFree:        60000000 kB\nMemAvailable:   60000000 kB\nBuffers:        1000 kB\nCached:         2000 kB\nSwapTotal:      1000 kB\nSwapFree:       1000 kB\n");
  const cpus = Array.from({ length: ncpus }, (_, i) => `cpu${i} 50 0 50 400 0 0 0 0 0 0`).join("\n");
  writeFileSync(join(dir, "stat"), `cpu  100 0 100 800 0 0 0 0 0 0\n${cpus}\nprocs_running 1\n`);
  return dir;
}
