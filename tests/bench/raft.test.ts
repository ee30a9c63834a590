/**
 * bench/raft.ts in its smoke mode (a few seconds, nothing judged), so that
 * the benchmark keeps working: a single master, three masters, a write
 * acknowledged by each, and a leader killed and replaced.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ensureBinary } from "../helpers/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "lava-bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("bench/raft.ts --smoke measures the single master and three masters, writes its result file and judges nothing", async () => {
  const out = join(dir, "raft.json");
  const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "../../bench/raft.ts"), "--smoke", "--bin", ensureBinary(), "--out", out], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect([code, stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  expect(stdout).toContain("smoke run: nothing judged");
  const r = JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown> & { single: { oneClient: { writesPerSec: number } }; three: { oneClient: { writesPerSec: number }; clients64: { writesPerSec: number }; killToNextWrite: { medianMs: number } } };
  expect(r.smoke).toBe(true);
  expect(r.targets).toBeUndefined();
  expect(r.single.oneClient.writesPerSec).toBeGreaterThan(0);
  expect(r.three.oneClient.writesPerSec).toBeGreaterThan(0);
  expect(r.three.clients64.writesPerSec).toBeGreaterThan(0);
  expect(r.three.killToNextWrite.medianMs).toBeGreaterThan(0);
  expect(String(r.binary)).toMatch(/^lava /);
}, 90_000);
