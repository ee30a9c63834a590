#!/usr/bin/env bun
/**
 * Compiles src/main.ts into one executable, dist/lava, with the version and
 * the build commit baked in. `bun run build`.
 *
 * Flags kept because they measurably help (bench/agent.ts, docs/performance.md
 * "Agent footprint"): --splitting keeps each lazily imported command in its
 * own chunk, so an agent never loads the master's code; --bytecode starts
 * faster; --compile-jit-policy makes the JIT reluctant in every process until
 * src/main.ts resets it for every role but the agent, whose little code runs
 * once per report and is not worth compiling (about 4 MB less resident).
 * --minify (identifiers, whitespace) and the baseline target changed neither
 * size nor memory measurably; --minify-syntax stays.
 */
import { mkdirSync } from "node:fs";
import pkg from "../package.json" with { type: "json" };
import { JIT_POLICY_AGENT } from "../src/cli/jit.ts";

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
    "--splitting",
    `--compile-jit-policy=${JIT_POLICY_AGENT}`,
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
