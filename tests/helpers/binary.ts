/**
 * The compiled binary for end-to-end tests. scripts/test builds it first;
 * a bare `bun test` builds it here if it is missing.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const REPO = join(import.meta.dir, "..", "..");
export const LAVA = join(REPO, "dist", "lava");

/** Newest modification time under src/ (and package.json), so a stale binary is rebuilt. */
function newestSource(dir = join(REPO, "src")): number {
  let newest = statSync(join(REPO, "package.json")).mtimeMs;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

let checked = false;

export function ensureBinary(): string {
  // A private build (LAVA_BUILD_OUT=… bun run build), used as it is: lets several
  // people test their own work in one tree without rebuilding each other's binary.
  const own = process.env.LAVA_TEST_BINARY;
  if (own) return own;
  if (!checked && (!existsSync(LAVA) || statSync(LAVA).mtimeMs < newestSource())) {
    const r = Bun.spawnSync([process.execPath, "run", "build"], { cwd: REPO, stdout: "inherit", stderr: "inherit" });
    if (r.exitCode !== 0) throw new Error("bun run build failed");
  }
  checked = true;
  return LAVA;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `lava ARGS…` to completion (bounded by timeoutMs). */
export async function runLava(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string; stdin?: string } = {}): Promise<RunResult> {
  const proc = Bun.spawn([ensureBinary(), ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...cleanEnv(), ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    timeout: opts.timeoutMs ?? 15_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** The environment minus LAVA_* so a developer's settings never leak into a test. */
export function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("LAVA_") && v !== undefined) out[k] = v;
  return out;
}
