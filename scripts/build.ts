#!/usr/bin/env bun
/**
 * Compiles src/main.ts into one executable, dist/lava, with the version and
 * the build commit baked in. `bun run build`.
 */
import { mkdirSync } from "node:fs";
import pkg from "../package.json" with { type: "json" };

const root = new URL("..", import.meta.url).pathname;
const git = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root, stderr: "ignore" });
const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: root, stderr: "ignore" });
const commit = git.exitCode === 0 ? git.stdout.toString().trim() + (dirty.stdout.toString().trim() ? "-dirty" : "") : "unknown";
const version = process.env.LAVA_BUILD_VERSION ?? pkg.version;
const outfile = process.env.LAVA_BUILD_OUT ?? `${root}dist/lava`;

mkdirSync(`${root}dist`, { recursive: true });
const proc = Bun.spawnSync(
  [
    process.execPath,
    "build",
    "--compile",
    "--minify-syntax",
    "--bytecode",
    "--format=esm",
    `--define=LAVA_VERSION=${JSON.stringify(version)}`,
    `--define=LAVA_COMMIT=${JSON.stringify(commit)}`,
    `--outfile=${outfile}`,
    `${root}src/main.ts`,
    // Worker threads are entry points of their own in a compiled executable.
    `${root}src/store/snapshot-worker.ts`,
  ],
  { cwd: root, stdout: "inherit", stderr: "inherit" },
);
if (proc.exitCode !== 0) process.exit(proc.exitCode ?? 1);
console.error(`built ${outfile} (lava ${version}, commit ${commit})`);
