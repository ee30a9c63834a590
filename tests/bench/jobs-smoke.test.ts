/**
 * bench/jobs.ts in its smoke mode (a few hundred jobs, one master and three,
 * no targets judged): the benchmark runs end to end against the compiled
 * binary and writes every figure it reports, so it cannot rot unnoticed.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, REPO } from "../helpers/binary.ts";

test("bench/jobs.ts --smoke runs and reports single jobs and an array on 1 and 3 masters", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lava-bench-smoke-"));
  try {
    const out = join(dir, "jobs.json");
    const p = Bun.spawn([process.execPath, join(REPO, "bench", "jobs.ts"), "--smoke", "--no-renice", "--lava", ensureBinary(), "--out", out], { cwd: REPO, stdout: "pipe", stderr: "pipe", timeout: 110_000 });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ code, stderr: code === 0 ? "" : stderr + stdout }).toEqual({ code: 0, stderr: "" });
    const r = JSON.parse(readFileSync(out, "utf8"));
    expect(r.smoke).toBe(true);
    expect(r.met).toBeNull();
    for (const k of ["masters1", "masters3"]) {
      expect(r[k].singles.completedPerSec).toBeGreaterThan(0);
      expect(r[k].singles.notDone).toBe(0);
      expect(r[k].array.tasksPerSec).toBeGreaterThan(0);
      expect(r[k].array.notDone).toBe(0);
      expect(r[k].array.submitAckMs).toBeGreaterThan(0);
      expect(r[k].baselineSpawnPerSec).toBeGreaterThan(0);
    }
    expect(stdout).toContain("3 replicated masters");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
