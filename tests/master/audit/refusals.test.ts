/** Refusal audit rows: aggregated per (source, action, reason), budgeted per source and in all. */
import { describe, expect, test } from "bun:test";
import { RefusalAudit, TARGET_CHARS_MAX, type Refusal } from "../../../src/master/audit/refusals.ts";

const refusal = (source: string, over: Partial<Refusal> = {}): Refusal => ({
  source,
  action: "host.remove",
  target: "h1",
  reason: "401 bad_token",
  actor: null,
  tokenPresented: true,
  detail: "token refused (bad_signature)",
  ...over,
});

describe("refusal audit", () => {
  test("the first refusal is a row at once; repeats in the window become one row with the count when it ends", () => {
    const a = new RefusalAudit({ windowMs: 10_000 });
    const first = a.note(refusal("10.0.0.9"), 0);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ actor: "invalid-token", action: "host.remove", target: "h1", result: "refused: 401 bad_token" });
    for (let i = 1; i <= 999; i++) expect(a.note(refusal("10.0.0.9"), i)).toEqual([]);
    expect(a.flush(9_999)).toEqual([]);
    const rows = a.flush(10_000);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.result).toBe("refused: 401 bad_token (×999 more from 10.0.0.9)");
    // Nothing left to say about that window.
    expect(a.flush(20_000)).toEqual([]);
  });

  test("one flooding source cannot use up the rows of others: each source has its own budget", () => {
    const a = new RefusalAudit({ windowMs: 10_000, rowsPerSourcePerWindow: 3, rowsPerWindow: 100 });
    let flood = 0;
    for (let i = 0; i < 10_000; i++) flood += a.note(refusal("10.0.0.66", { target: `fake-${i}` }), i / 10).length;
    // Other targets of the same (source, action, reason) are repeats: one row…
    expect(flood).toBe(1);
    // …and other actions are rows only up to the source's budget.
    for (let i = 0; i < 100; i++) flood += a.note(refusal("10.0.0.66", { action: `token.revoke-${i}` }), 999).length;
    expect(flood).toBe(3);
    // …while another source still gets its row at once.
    expect(a.note(refusal("10.0.0.7", { reason: "403 forbidden", actor: { sub: "monitor", role: "read" } }), 999)).toEqual([
      expect.objectContaining({ actor: "monitor", actorRole: "read", result: "refused: 403 forbidden" }),
    ]);
  });

  test("all sources together are bounded too; what gets no row is counted as suppressed", () => {
    const a = new RefusalAudit({ windowMs: 10_000, rowsPerSourcePerWindow: 5, rowsPerWindow: 50, keysMax: 1000 });
    let rows = 0;
    for (let i = 0; i < 5000; i++) rows += a.note(refusal(`10.1.${i >> 8}.${i & 255}`), i).length;
    rows += a.flush(10_000).length;
    expect(rows).toBeLessThanOrEqual(100);
    expect(a.suppressed).toBeGreaterThan(0);
  });

  test("targets and details are cut; anonymous when no token came", () => {
    const a = new RefusalAudit();
    const [row] = a.note(refusal("10.0.0.1", { target: "x".repeat(4000), tokenPresented: false, detail: "y".repeat(5000) }), 0);
    expect(row!.target!.length).toBeLessThanOrEqual(TARGET_CHARS_MAX);
    expect(row!.detail.length).toBeLessThanOrEqual(500);
    expect(row!.actor).toBe("anonymous");
  });
});
