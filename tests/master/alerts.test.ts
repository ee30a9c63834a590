/** Active alerts (soft state with a re-send grace), health's worst status, and the webhook sender. */
import { describe, expect, test } from "bun:test";
import type { Alert } from "../../src/control/index.ts";
import { AlertBook, CONFIRM_GRACE_MS, webhookPayload } from "../../src/master/alerts/book.ts";
import { WebhookSender, checkWebhookUrl } from "../../src/master/alerts/webhook.ts";
import { worstStatus } from "../../src/master/health/book.ts";

const alert = (o: Partial<Alert> = {}): Alert => ({ type: "alert", id: "cpu-high", rule: "cpu-high", severity: "critical", state: "firing", message: "cpu 95%", value: 95, at: 1000, ...o });

describe("alert book", () => {
  test("raise, repeat (no change), severity change, resolve; resolved are kept newest first", () => {
    const b = new AlertBook();
    expect(b.apply(1, "h1", alert(), 10)?.kind).toBe("raised");
    expect(b.apply(1, "h1", alert({ value: 96 }), 20)).toBeNull();
    expect(b.list()[0]).toMatchObject({ value: 96, sinceMs: 10 });
    expect(b.apply(1, "h1", alert({ severity: "warning" }), 30)?.kind).toBe("changed");
    expect(b.counts()).toEqual({ info: 0, warning: 1, critical: 0 });
    const r = b.apply(1, "h1", alert({ state: "resolved", message: "cpu 40%", value: 40 }), 40);
    expect(r).toMatchObject({ kind: "resolved", alert: { state: "resolved", message: "cpu 40%", value: 40, resolvedMs: 40 } });
    expect(b.size).toBe(0);
    expect(b.apply(1, "h1", alert({ state: "resolved" }), 50)).toBeNull(); // nothing to resolve
    b.apply(2, "h2", alert({ id: "disk" }), 60);
    b.apply(2, "h2", alert({ id: "disk", state: "resolved" }), 70);
    expect(b.resolved().map((a) => `${a.host}/${a.id}`)).toEqual(["h2/disk", "h1/cpu-high"]);
  });

  test("the same id on two hosts is two alerts; list is critical first, then host and id", () => {
    const b = new AlertBook();
    b.apply(2, "b", alert({ id: "x", severity: "warning" }), 1);
    b.apply(1, "a", alert({ id: "y", severity: "warning" }), 1);
    b.apply(2, "b", alert({ id: "z", severity: "critical" }), 1);
    b.apply(1, "a", alert({ id: "x", severity: "info" }), 1);
    expect(b.list().map((a) => `${a.severity} ${a.host} ${a.id}`)).toEqual(["critical b z", "warning a y", "warning b x", "info a x"]);
  });

  test("after a new registration, alerts not re-sent within the grace resolve; re-sent ones stay without a notification", () => {
    const b = new AlertBook();
    b.apply(1, "h", alert({ id: "kept" }), 0);
    b.apply(1, "h", alert({ id: "stale" }), 0);
    b.apply(2, "other", alert({ id: "x" }), 0);
    b.hostRegistered("h", 1000);
    expect(b.apply(1, "h", alert({ id: "kept" }), 2000)).toBeNull();
    expect(b.sweep(1000 + CONFIRM_GRACE_MS - 1)).toEqual([]);
    const gone = b.sweep(1000 + CONFIRM_GRACE_MS);
    expect(gone.map((c) => [c.kind, c.alert.id])).toEqual([["resolved", "stale"]]);
    expect(gone[0]!.alert.message).toContain("not re-sent by the agent");
    expect(b.list().map((a) => a.id).sort()).toEqual(["kept", "x"]);
    expect(b.sweep(10 ** 9)).toEqual([]);
  });

  test("a removed host's alerts resolve; bounds drop and count", () => {
    const b = new AlertBook({ perHostMax: 2, totalMax: 3, resolvedKept: 2 });
    b.apply(1, "h", alert({ id: "1" }), 0);
    b.apply(1, "h", alert({ id: "2" }), 0);
    expect(b.apply(1, "h", alert({ id: "3" }), 0)).toBeNull();
    b.apply(2, "g", alert({ id: "1" }), 0);
    expect(b.apply(3, "k", alert({ id: "1" }), 0)).toBeNull();
    expect(b.dropped).toBe(2);
    expect(b.hostRemoved(1, 5).map((c) => c.kind)).toEqual(["resolved", "resolved"]);
    expect(b.size).toBe(1);
    b.apply(2, "g", alert({ id: "1", state: "resolved" }), 6);
    expect(b.resolved()).toHaveLength(2);
  });

  test("the webhook payload has exactly the documented fields", () => {
    const b = new AlertBook();
    const c = b.apply(1, "h", alert(), 0)!;
    expect(webhookPayload(c.alert)).toEqual({ host: "h", id: "cpu-high", rule: "cpu-high", severity: "critical", state: "firing", message: "cpu 95%", value: 95, at: new Date(1000).toISOString() });
  });
});

describe("health status", () => {
  test("the worst check: critical > warning > unknown > ok; none is unknown", () => {
    const c = (...s: ("ok" | "warning" | "critical" | "unknown")[]) => Object.fromEntries(s.map((x, i) => [`c${i}`, { status: x, detail: "" }]));
    expect(worstStatus(c("ok", "ok"))).toBe("ok");
    expect(worstStatus(c("ok", "unknown"))).toBe("unknown");
    expect(worstStatus(c("unknown", "warning", "ok"))).toBe("warning");
    expect(worstStatus(c("warning", "critical"))).toBe("critical");
    expect(worstStatus({})).toBe("unknown");
  });
});

describe("alert webhook sender", () => {
  const opts = { queueMax: 3, timeoutMs: 1000, attempts: 3, backoffMs: 10, backoffCapMs: 15 };

  test("POSTs each payload in order; retries 5xx and network errors with backoff; gives up after the attempts", async () => {
    const calls: string[] = [];
    const sleeps: number[] = [];
    let n = 0;
    const answers = [503, 0, 200, 400, 500, 500, 500];
    const s = new WebhookSender("http://x/hook", {
      fetch: async (_u, init) => {
        calls.push(String(init.body));
        const a = answers[n++]!;
        if (a === 0) throw new Error("connection refused");
        return new Response("", { status: a });
      },
      sleep: async (ms) => void sleeps.push(ms),
    }, opts);
    s.enqueue({ n: 1 });
    s.enqueue({ n: 2 });
    s.enqueue({ n: 3 });
    await s.drained();
    // 1: 503, refused, 200 → sent. 2: 400 → refused, not retried. 3: 500 ×3 → gave up.
    expect(calls).toEqual(['{"n":1}', '{"n":1}', '{"n":1}', '{"n":2}', '{"n":3}', '{"n":3}', '{"n":3}']);
    expect(sleeps).toEqual([10, 15, 10, 15]);
    expect(s.counters).toEqual({ sent: 1, failed: 2, dropped: 0, retries: 4 });
  });

  test("a full queue drops the oldest and counts it; enqueue never waits for the receiver", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const s = new WebhookSender("http://x/hook", {
      fetch: async (_u, init) => {
        await gate;
        seen.push(String(init.body));
        return new Response("");
      },
      sleep: async () => {},
    }, opts);
    for (let i = 1; i <= 6; i++) s.enqueue({ i }); // 1 is in flight; 2..6 queue, bound 3 → 2 and 3 dropped
    expect(s.counters.dropped).toBe(2);
    expect(s.queued).toBe(3);
    release();
    await s.drained();
    expect(seen).toEqual(['{"i":1}', '{"i":4}', '{"i":5}', '{"i":6}']);
  });

  test("the URL is checked at start-up", () => {
    expect(checkWebhookUrl("https://alerts.example.com/lava")).toBeNull();
    expect(checkWebhookUrl("ftp://x")).toContain("master.alerts.webhook");
    expect(checkWebhookUrl("not a url")).toContain("master.alerts.webhook");
  });
});
