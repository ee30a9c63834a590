/**
 * Writes a benchmark's JSON result to bench/results/<name>.json, with the
 * machine it ran on and the commit it was measured on.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, resolve } from "node:path";

export const RESULTS_DIR = resolve(import.meta.dir, "..", "results");
const REPO = resolve(import.meta.dir, "..", "..");

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

/** Paths of a `git status --porcelain` listing, without the results this file writes (they are outputs, not what was measured). */
export function changedPaths(porcelain: string): string[] {
  return porcelain
    .split("\n")
    .filter((l) => l.length > 3)
    .map((l) => l.slice(3).replace(/^.* -> /, ""))
    .filter((p) => !p.startsWith("bench/results/"));
}

export interface TreeState {
  /** HEAD, 12 hex digits, with "-dirty" when files differ from it; null outside a git checkout. */
  commit: string | null;
  dirty: boolean;
  /** Up to 20 of the files that differ from HEAD (tracked or not). */
  changed: string[];
}

/** The commit of the tree the benchmark runs from, and whether the tree differs from it. */
export function treeState(cwd = REPO): TreeState {
  const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd, stderr: "ignore" });
  if (head.exitCode !== 0) return { commit: null, dirty: false, changed: [] };
  const status = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=normal"], { cwd, stderr: "ignore" });
  const changed = changedPaths(status.stdout.toString());
  const sha = head.stdout.toString().trim();
  return { commit: changed.length > 0 ? `${sha}-dirty` : sha, dirty: changed.length > 0, changed: changed.slice(0, 20) };
}

/** Taken when the benchmark starts (it imports this module first thing), not when it ends: what was measured. */
const TREE = treeState();

/** Writes `result` (plus date, commit and machine) as JSON; returns the path. */
export function writeResult(name: string, result: Record<string, unknown>, outFile?: string | null): string {
  const path = outFile ? resolve(outFile) : resolve(RESULTS_DIR, `${name}.json`);
  mkdirSync(dirname(path), { recursive: true });
  const body = { name, date: new Date().toISOString(), commit: TREE.commit, tree: TREE, machine: machine(), ...result };
  writeFileSync(path, JSON.stringify(body, null, 2) + "\n");
  if (TREE.dirty) console.error(`bench: measured on a dirty tree (${TREE.commit}; ${TREE.changed.slice(0, 5).join(", ")}${TREE.changed.length > 5 ? ", …" : ""})`);
  return path;
}
