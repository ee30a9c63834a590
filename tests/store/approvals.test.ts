/**
 * The approval state machine (src/store/apply-approvals.ts) through the log:
 * the rules live in the apply, so every master enforces them the same way
 * and no route can get around them.
 */
import { describe, expect, test } from "bun:test";
import { approvalById, auditSince, expiredApprovalIds, listApprovals, type Command } from "../../src/store/index.ts";
import { storeWithLog } from "./harness.ts";

const setup = () => storeWithLog("lava-approvals-");
const request = (at = 1000, actor = "alice"): Command => ({ type: "approval.request", at, actor, actorRole: "admin", kind: "exec", summary: "reboot on all (3 hosts)", request: '{"all":true,"argv":["reboot"],"timeoutSec":60}', expiresAt: at + 60_000 });
const decide = (id: number, actor: string, approve: boolean, at = 2000): Command => ({ type: "approval.decide", at, actor, actorRole: "admin", id, approve, reason: "r" });

describe("approval state machine", () => {
  test("request → pending with an id from the state; another admin approves once", async () => {
    const { s, clog } = setup();
    expect((await clog.propose(request())).result).toEqual({ ok: true, value: { id: 1, expiresAt: 61_000 } });
    expect((await clog.propose(request(1100))).result).toEqual({ ok: true, value: { id: 2, expiresAt: 61_100 } });
    expect(listApprovals(s.db).map((a) => a.id)).toEqual([1, 2]);
    const ok = await clog.propose(decide(1, "bob", true));
    expect(ok.result).toMatchObject({ ok: true, value: { id: 1, kind: "exec", requester: "alice", state: "approved" } });
    expect(approvalById(s.db, 1)).toMatchObject({ state: "approved", decidedBy: "bob", decidedAt: 2000, reason: "r" });
    const twice = await clog.propose(decide(1, "carol", true, 2100));
    expect(twice.result).toMatchObject({ ok: false, error: "conflict" });
    const deny = await clog.propose(decide(1, "carol", false, 2200));
    expect(deny.result).toMatchObject({ ok: false, error: "conflict" });
    expect(listApprovals(s.db).map((a) => a.id)).toEqual([2]);
  });

  test("the requester can never approve their own request (they may withdraw it)", async () => {
    const { s, clog } = setup();
    await clog.propose(request());
    expect((await clog.propose(decide(1, "alice", true))).result).toMatchObject({ ok: false, error: "self_approval" });
    expect(approvalById(s.db, 1)!.state).toBe("pending");
    expect((await clog.propose(decide(1, "alice", false))).result.ok).toBe(true);
    expect(approvalById(s.db, 1)).toMatchObject({ state: "denied", decidedBy: "alice" });
  });

  test("a decision at or after the expiry expires it instead; approval.expire only after the expiry", async () => {
    const { s, clog } = setup();
    await clog.propose(request());
    await clog.propose(request());
    expect(expiredApprovalIds(s.db, 60_999)).toEqual([]);
    expect(expiredApprovalIds(s.db, 61_000)).toEqual([1, 2]);
    expect((await clog.propose(decide(1, "bob", true, 61_000))).result).toMatchObject({ ok: false, error: "expired" });
    expect(approvalById(s.db, 1)!.state).toBe("expired");
    expect((await clog.propose({ type: "approval.expire", at: 60_000, actor: "master", actorRole: "admin", id: 2 })).result).toMatchObject({ ok: false, error: "conflict" });
    expect((await clog.propose({ type: "approval.expire", at: 61_000, actor: "master", actorRole: "admin", id: 2 })).result.ok).toBe(true);
    expect(expiredApprovalIds(s.db, 99_999)).toEqual([]);
  });

  test("unknown ids are refused", async () => {
    const { clog } = setup();
    expect((await clog.propose(decide(7, "bob", true))).result).toMatchObject({ ok: false, error: "unknown_approval" });
  });

  test("every step writes one audit row, refusals included", async () => {
    const { s, clog } = setup();
    await clog.propose(request());
    await clog.propose(decide(1, "alice", true));
    await clog.propose(decide(1, "bob", true));
    const rows = auditSince(s.db, {}).map((r) => [r.action, r.actor, r.target, r.result.startsWith("refused") ? "refused" : r.result]);
    expect(rows).toEqual([
      ["approval.request", "alice", "approval 1", "ok"],
      ["approval.decide", "alice", "approval 1", "refused"],
      ["approval.decide", "bob", "approval 1", "ok"],
    ]);
  });
});
