/** runExec: the moving window of maxParallel, per-host results whatever happens, the forwarding bound. */
import { describe, expect, test } from "bun:test";
import type { Deploy, Execute } from "../../src/control/index.ts";
import { EXEC_FORWARD_BYTES_MAX, EXEC_SLACK_MS, runExec, type ExecHostResult } from "../../src/master/requests/exec.ts";
import { RequestRouter } from "../../src/master/requests/router.ts";
import type { Target } from "../../src/master/requests/targets.ts";

const T = (i: number, connected = true): Target => ({ host: `h${i}`, entry: { hostname: `h${i}`, hostId: i, connected, version: "1" } });

describe("exec fan-out", () => {
  test("never more than maxParallel open at once; every host gets a result; the summary counts exit 0 as ok", async () => {
    let now = 0;
    let n = 0;
    const router = new RequestRouter(() => now, () => `r${++n}`);
    const open: (Execute | Deploy)[] = [];
    let maxOpen = 0;
    const results: ExecHostResult[] = [];
    const run = runExec(Array.from({ length: 10 }, (_, i) => T(i + 1)), { argv: ["x"], timeoutMs: 1000 }, 3, {
      router,
      nowMs: () => now,
      send: (_id, m) => {
        open.push(m);
        maxOpen = Math.max(maxOpen, router.pending);
        return true;
      },
    }, { output: () => {}, result: (r) => void results.push(r) });
    // Answer whatever is open, one at a time, host id = exit code.
    for (let k = 0; k < 10; k++) {
      await Bun.sleep(0);
      const m = open.shift()!;
      const hostId = Number(m.requestId.slice(1)); // ids are handed out in send order
      router.deliver(hostId, { type: "command_result", requestId: m.requestId, status: "ok", exitCode: hostId % 2 === 0 ? 0 : 1 });
    }
    expect(await run).toEqual({ hosts: 10, ok: 5, failed: 5 });
    expect(maxOpen).toBe(3);
    expect(results.map((r) => r.host).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `h${i + 1}`).sort());
  });

  test("a deadline of timeout + slack; output past the forwarding bound is cut and marked", async () => {
    let now = 0;
    const router = new RequestRouter(() => now, () => "only");
    const forwarded: number[] = [];
    const results: ExecHostResult[] = [];
    const run = runExec([T(1)], { argv: ["x"], timeoutMs: 1000 }, 10, { router, nowMs: () => now, send: () => true }, { output: (_h, _s, d) => void forwarded.push(d.length), result: (r) => void results.push(r) });
    const chunk = "y".repeat(256 * 1024);
    for (let i = 0; i < EXEC_FORWARD_BYTES_MAX / chunk.length + 3; i++) router.deliver(1, { type: "command_output", requestId: "only", stream: "stdout", data: chunk });
    expect(forwarded.reduce((a, b) => a + b, 0)).toBe(EXEC_FORWARD_BYTES_MAX);
    now += 1000 + EXEC_SLACK_MS - 1;
    router.sweep();
    expect(results).toHaveLength(0);
    now += 1;
    router.sweep();
    await run;
    expect(results[0]).toMatchObject({ host: "h1", status: "timeout", exitCode: null, durationMs: 1000 + EXEC_SLACK_MS });
  });

  test("a send that fails, or a full router, is a per-host error, not a hang", async () => {
    const router = new RequestRouter(() => 0, (() => { let i = 0; return () => `r${++i}`; })(), { perHostMax: 1, totalMax: 1 });
    const results: ExecHostResult[] = [];
    router.openRequest(99, "logs", null, { onMessage: () => {}, onFail: () => {} }); // fills the router
    await runExec([T(1), T(2, false)], { argv: ["x"], timeoutMs: 1 }, 5, { router, nowMs: () => 0, send: () => false }, { output: () => {}, result: (r) => void results.push(r) });
    expect(results.find((r) => r.host === "h1")!.error).toContain("master busy");
    expect(results.find((r) => r.host === "h2")!.error).toBe("no control channel (host unreach/unavail)");
  });
});
