/**
 * bench/history.ts --smoke in CI: the benchmark runs end to end (two
 * compiled masters with 200 simulated agents, the queries, the in-process
 * cost, the rrdtool comparison when rrdtool is installed) and its figures
 * that do not depend on the machine's speed meet their targets: the report's
 * fields ≤ 64 KiB per host and ≤ 0.5 × rrdtool's bytes, the file as the
 * formula says. Timing targets are the full run's (docs/performance.md).
 */
import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary } from "../helpers/binary.ts";
import { tempDir } from "../helpers/cluster.ts";

test("bench/history.ts --smoke runs and its size figures meet the targets", async () => {
  const dir = tempDir("lava-bench-smoke-");
  try {
    const out = join(dir, "history.json");
    const p = Bun.spawn([process.execPath, join(import.meta.dir, "../../bench/history.ts"), "--smoke", "--lava", ensureBinary(), "--out", out], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ code, tail: code === 0 ? "" : (stdout + stderr).slice(-2000) }).toEqual({ code: 0, tail: "" });
    const r = JSON.parse(readFileSync(out, "utf8"));
    expect(r.smoke).toBe(true);
    expect(r.ingest.off.accepted).toBeGreaterThan(0);
    expect(r.ingest.on.accepted).toBeGreaterThan(0);
    expect(r.size.reportBytesPerHost).toBeLessThanOrEqual(64 * 1024);
    expect(r.size.fileBytes).toBe(r.size.formulaBytes);
    if (r.size.rrdtool) expect(r.size.reportRatioToRrdtool).toBeLessThanOrEqual(0.5);
    else console.error("!!!! rrdtool not installed: the size comparison was skipped !!!!");
    expect(r.queries.oneHost24h.p50).toBeGreaterThan(0);
    expect(r.queries.allHostsSummary24h.bytes).toBeGreaterThan(100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
