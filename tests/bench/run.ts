/**
 * Runs a benchmark in its smoke mode for the tests in tests/bench: the
 * script from bench/, `--smoke --out <temp file>` plus the test's flags,
 * bounded in time; returns its exit code, output and the JSON it wrote.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, REPO } from "../helpers/binary.ts";

export interface BenchRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The result file, parsed (null if the benchmark wrote none). */
  result: Record<string, any> | null;
}

export async function runSmoke(script: string, args: string[], timeoutMs: number): Promise<BenchRun> {
  const dir = mkdtempSync(join(tmpdir(), "lava-bench-smoke-"));
  try {
    const out = join(dir, "result.json");
    const p = Bun.spawn([process.execPath, join(REPO, "bench", script), "--smoke", "--out", out, ...args], { cwd: REPO, env: cleanEnv(), stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr, result: existsSync(out) ? (JSON.parse(readFileSync(out, "utf8")) as Record<string, any>) : null };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What to show when a run failed: its exit code and the tail of its output. */
export const failure = (r: BenchRun) => ({ code: r.code, tail: r.code === 0 ? "" : (r.stdout + r.stderr).slice(-2000) });
