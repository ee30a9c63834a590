/** Writes a benchmark's JSON result to bench/results/<name>.json, with the machine it ran on. */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, resolve } from "node:path";

export const RESULTS_DIR = resolve(import.meta.dir, "..", "results");

export function machine() {
  return {
    bunVersion: Bun.version,
    cpu: cpus()[0]?.model ?? null,
    cores: cpus().length,
    memBytes: totalmem(),
    kernel: (() => {
      const r = Bun.spawnSync(["uname", "-r"], { stderr: "ignore" });
      return r.exitCode === 0 ? r.stdout.toString().trim() : null;
    })(),
  };
}

/** Writes `result` (plus date and machine) as JSON; returns the path. */
export function writeResult(name: string, result: Record<string, unknown>, outFile?: string | null): string {
  const path = outFile ? resolve(outFile) : resolve(RESULTS_DIR, `${name}.json`);
  mkdirSync(dirname(path), { recursive: true });
  const body = { name, date: new Date().toISOString(), machine: machine(), ...result };
  writeFileSync(path, JSON.stringify(body, null, 2) + "\n");
  return path;
}
