/**
 * The benchmarks' shared parts: the one flag parser of bench/ and scripts/
 * (bench/lib/args.ts) and the commit a result records (bench/lib/results.ts).
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { parseFlags, usageText } from "../../bench/lib/args.ts";
import { changedPaths, treeState } from "../../bench/lib/results.ts";
import { cleanEnv, REPO } from "../helpers/binary.ts";

const spec = {
  hosts: { kind: "number", default: 1000, min: 1, integer: true, help: "hosts" },
  seconds: { kind: "number", default: 5, min: 0.1, help: "seconds" },
  vs: { kind: "string", default: null, help: "other build" },
  history: { kind: "boolean", default: true, help: "history on and off" },
  smoke: { kind: "boolean", default: false, help: "short" },
} as const;

test("flags: defaults, --name value, --name=value, --flag and --no-flag", () => {
  expect(parseFlags("t", [], spec)).toEqual({ hosts: 1000, seconds: 5, vs: null, history: true, smoke: false });
  expect(parseFlags("t", ["--hosts", "50", "--seconds=0.5", "--vs", "/x/lava", "--no-history", "--smoke"], spec)).toEqual({ hosts: 50, seconds: 0.5, vs: "/x/lava", history: false, smoke: true });
  expect(parseFlags("t", ["--smoke=false", "--history=true"], spec)).toMatchObject({ smoke: false, history: true });
  expect(usageText("t", spec)).toContain("--history | --no-history");
});

test("flags: an unknown flag, a bad number or a missing value is a usage error (exit 2) naming it", () => {
  for (const [args, says] of [[["--bogus"], "unknown flag --bogus"], [["--seconds", "x"], "--seconds must be a number"], [["--seconds"], "--seconds needs a value"], [["stray"], "unexpected argument 'stray'"]] as const) {
    const r = Bun.spawnSync([process.execPath, join(REPO, "bench", "codec.ts"), ...args], { cwd: REPO, env: cleanEnv(), stdout: "pipe", stderr: "pipe" });
    expect({ code: r.exitCode, says: r.stderr.toString().includes(says) }).toEqual({ code: 2, says: true });
  }
});

test("results: the commit measured, dirty when files differ from it (results files aside)", () => {
  expect(changedPaths(" M src/a.ts\n?? bench/results/x.json\nR  old.ts -> new.ts\n M bench/results/ingest.json\n")).toEqual(["src/a.ts", "new.ts"]);
  const t = treeState();
  expect(t.commit).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
  expect(t.dirty).toBe(t.commit!.endsWith("-dirty"));
  expect(t.dirty).toBe(t.changed.length > 0);
});
