/**
 * bench/agent.ts in smoke mode (3 s window): it runs end to end against the
 * compiled binary, measures every process it starts, and the agent stays
 * within a bound of its measured footprint, as a ratio to the bare Bun
 * process measured in the same run (the full run's figures are in
 * docs/performance.md: 1.71× now; 1.87× before this round's work on it).
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, ensureBinary, REPO } from "../helpers/binary.ts";

interface Row {
  name: string;
  intervalS: number;
  rssBytes: number;
  rssMaxBytes: number;
  cpuPctOfCore: number;
}

test("bench/agent.ts --smoke measures the agent at 4 s and 1 s beside a bare Bun process", async () => {
  const bin = ensureBinary();
  const dir = mkdtempSync(join(tmpdir(), "lava-bench-agent-"));
  try {
    const out = join(dir, "agent.json");
    const p = Bun.spawn([process.execPath, join(REPO, "bench", "agent.ts"), "--smoke", "--lava", bin, "--out", out], { cwd: REPO, env: cleanEnv(), stdout: "pipe", stderr: "pipe", timeout: 50_000 });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect(`${code} ${stderr.slice(-500)}`).toStartWith("0 ");
    expect(stdout).toContain("lava agent (4 s)");
    const result = JSON.parse(readFileSync(out, "utf8")) as { smoke: boolean; rows: Row[] };
    expect(result.smoke).toBe(true);
    const names = result.rows.map((r) => r.name);
    for (const n of ["lava agent (4 s)", "lava agent (1 s)", "bare bun reading /proc (4 s)", "bare bun reading /proc (1 s)"]) expect(names).toContain(n);
    for (const r of result.rows) {
      expect(r.rssBytes).toBeGreaterThan(1 << 20);
      expect(r.cpuPctOfCore).toBeGreaterThanOrEqual(0);
    }
    const agent = result.rows.find((r) => r.name === "lava agent (4 s)")!;
    const bare = result.rows.find((r) => r.name === "bare bun reading /proc (4 s)")!;
    expect(agent.rssMaxBytes / bare.rssMaxBytes).toBeLessThan(1.85);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
