/** The request router: correlation by requestId, deadlines on an injected clock, cleanup when a host goes. */
import { describe, expect, test } from "bun:test";
import { RequestRouter, type RequestHandler, type RoutedMessage } from "../../src/master/requests/router.ts";

function setup(limits = { perHostMax: 4, totalMax: 10 }) {
  let now = 1_000;
  let n = 0;
  const errors: unknown[] = [];
  const router = new RequestRouter(() => now, () => `r${++n}`, limits, (e) => errors.push(e));
  return { router, errors, advance: (ms: number) => (now += ms) };
}

function recorder() {
  const got: RoutedMessage[] = [];
  const failed: { reason: string; detail: string }[] = [];
  const handler: RequestHandler = { onMessage: (m) => void got.push(m), onFail: (reason, detail) => void failed.push({ reason, detail }) };
  return { got, failed, handler };
}

const out = (requestId: string, data = "x"): RoutedMessage => ({ type: "command_output", requestId, stream: "stdout", data });
const result = (requestId: string): RoutedMessage => ({ type: "command_result", requestId, status: "ok", exitCode: 0 });

describe("request router", () => {
  test("answers reach the request with their id, in order; the final one closes it", () => {
    const { router } = setup();
    const a = recorder();
    const b = recorder();
    const ra = router.openRequest(1, "exec", 5000, a.handler);
    const rb = router.openRequest(2, "exec", 5000, b.handler);
    if (!ra.ok || !rb.ok) throw new Error("open failed");
    expect(ra.requestId).not.toBe(rb.requestId);
    expect(router.deliver(1, out(ra.requestId, "1"))).toBe("delivered");
    expect(router.deliver(2, out(rb.requestId, "b"))).toBe("delivered");
    expect(router.deliver(1, out(ra.requestId, "2"))).toBe("delivered");
    expect(router.deliver(1, result(ra.requestId))).toBe("delivered");
    expect(a.got.map((m) => (m.type === "command_output" ? m.data : m.type))).toEqual(["1", "2", "command_result"]);
    expect(b.got).toHaveLength(1);
    expect(router.pending).toBe(1);
    // After the final message the id is unknown: a duplicate result is dropped and counted.
    expect(router.deliver(1, result(ra.requestId))).toBe("unknown");
    expect(router.counters.unknown).toBe(1);
    expect(a.got).toHaveLength(3);
  });

  test("an answer from another host, or of the wrong type, is not handed over", () => {
    const { router } = setup();
    const a = recorder();
    const r = router.openRequest(1, "exec", 5000, a.handler);
    if (!r.ok) throw new Error("open failed");
    expect(router.deliver(2, result(r.requestId))).toBe("wrong_host");
    expect(router.deliver(1, { type: "log_line", requestId: r.requestId, line: "x" })).toBe("wrong_kind");
    expect(router.deliver(1, { type: "health", requestId: r.requestId, at: 1, checks: {} })).toBe("wrong_kind");
    expect(a.got).toHaveLength(0);
    expect(router.counters).toMatchObject({ wrongHost: 1, wrongKind: 2 });
    expect(router.deliver(7, result("made-up"))).toBe("unknown");
    expect(router.pending).toBe(1);
  });

  test("each kind ends with its own final message", () => {
    const { router } = setup();
    const h = recorder();
    const l = recorder();
    const rh = router.openRequest(1, "health", 1000, h.handler);
    const rl = router.openRequest(1, "logs", null, l.handler);
    if (!rh.ok || !rl.ok) throw new Error("open failed");
    router.deliver(1, { type: "health", requestId: rh.requestId, at: 5, checks: {} });
    router.deliver(1, { type: "log_line", requestId: rl.requestId, line: "a" });
    expect(router.pending).toBe(1);
    router.deliver(1, { type: "logs_end", requestId: rl.requestId });
    expect(router.pending).toBe(0);
    expect(l.got.map((m) => m.type)).toEqual(["log_line", "logs_end"]);
  });

  test("a request past its deadline fails at the next sweep, not before", () => {
    const { router, advance } = setup();
    const a = recorder();
    const forever = recorder();
    const r = router.openRequest(1, "exec", 2000, a.handler);
    router.openRequest(1, "logs", null, forever.handler);
    if (!r.ok) throw new Error("open failed");
    advance(1999);
    expect(router.sweep()).toBe(0);
    advance(1);
    expect(router.sweep()).toBe(1);
    expect(a.failed).toEqual([{ reason: "timeout", detail: "no answer from the agent within 2 s" }]);
    expect(router.deliver(1, result(r.requestId))).toBe("unknown");
    advance(10 ** 9);
    expect(router.sweep()).toBe(0);
    expect(forever.failed).toHaveLength(0);
    expect(router.counters.timedOut).toBe(1);
  });

  test("a host that goes fails all its requests at once, and only its own", () => {
    const { router } = setup();
    const mine = [recorder(), recorder(), recorder()];
    const other = recorder();
    for (const m of mine) router.openRequest(1, "exec", 5000, m.handler);
    router.openRequest(2, "exec", 5000, other.handler);
    expect(router.hostGone(1, "host disconnected mid-request")).toBe(3);
    for (const m of mine) expect(m.failed).toEqual([{ reason: "disconnected", detail: "host disconnected mid-request" }]);
    expect(other.failed).toHaveLength(0);
    expect(router.pendingFor(1)).toBe(0);
    expect(router.pending).toBe(1);
    expect(router.hostGone(1, "again")).toBe(0);
  });

  test("bounds: per host and in total; a refused open leaves nothing behind", () => {
    const { router } = setup({ perHostMax: 2, totalMax: 3 });
    const h = recorder().handler;
    expect(router.openRequest(1, "exec", 1, h).ok).toBe(true);
    expect(router.openRequest(1, "exec", 1, h).ok).toBe(true);
    const third = router.openRequest(1, "exec", 1, h);
    expect(third.ok).toBe(false);
    expect(router.openRequest(2, "exec", 1, h).ok).toBe(true);
    expect(router.openRequest(3, "exec", 1, h).ok).toBe(false);
    expect(router.pending).toBe(3);
    expect(router.counters.refused).toBe(2);
  });

  test("cancel ends a request silently; a throwing handler does not break the router", () => {
    const { router, errors } = setup();
    const quiet = recorder();
    const r = router.openRequest(1, "logs", null, quiet.handler);
    if (!r.ok) throw new Error("open failed");
    expect(router.cancel(r.requestId)).toBe(true);
    expect(router.cancel(r.requestId)).toBe(false);
    router.hostGone(1, "gone");
    expect(quiet.failed).toHaveLength(0);

    const bad = router.openRequest(1, "exec", 100, { onMessage: () => { throw new Error("boom"); }, onFail: () => { throw new Error("boom2"); } });
    if (!bad.ok) throw new Error("open failed");
    expect(router.deliver(1, result(bad.requestId))).toBe("delivered");
    expect(router.pending).toBe(0);
    const bad2 = router.openRequest(1, "exec", 100, { onMessage: () => {}, onFail: () => { throw new Error("boom3"); } });
    expect(bad2.ok).toBe(true);
    router.failAll("shutting down");
    expect(errors.map((e) => (e as Error).message)).toEqual(["boom", "boom3"]);
    expect(router.pending).toBe(0);
  });

  test("ids are never reused while open, even if the id source repeats", () => {
    let k = 0;
    const ids = ["same", "same", "other"];
    const router = new RequestRouter(() => 0, () => ids[k++]!);
    const a = router.openRequest(1, "exec", 1, recorder().handler);
    const b = router.openRequest(1, "exec", 1, recorder().handler);
    expect(a.ok && b.ok && a.requestId !== b.requestId).toBe(true);
  });
});
