/**
 * Applying approval commands (docs/api.md "Approvals"): a held request gets
 * an id from the state itself (every replica assigns the same), and moves
 * once from `pending` to `approved`, `denied` or `expired`. The rules that
 * make approval worth having are here, in the deterministic apply, so no
 * master can bypass them: the requester never approves their own request,
 * nothing is decided twice, and nothing is decided after it expired (the
 * leader stamps `at`; a decision at or past `expiresAt` expires it instead).
 */
import { and, eq } from "drizzle-orm";
import { approvals } from "./schema.ts";
import type { ApplyResult, Command } from "./commands.ts";
import type { Tx } from "./prepared.ts";
import { getMeta, META, setMeta } from "./meta.ts";

/** The caller's transaction (src/store/apply.ts). */

type ApprovalCommand = Extract<Command, { type: "approval.request" | "approval.decide" | "approval.expire" }>;

function refuse(error: string, detail: string): ApplyResult {
  return { ok: false, error, detail };
}

export function applyApproval(tx: Tx, cmd: ApprovalCommand): ApplyResult {
  switch (cmd.type) {
    case "approval.request": {
      const id = Number(getMeta(tx, META.nextApprovalId) ?? 1);
      setMeta(tx, META.nextApprovalId, id + 1);
      tx.insert(approvals).values({ id, kind: cmd.kind, requester: cmd.actor, requestedAt: cmd.at, expiresAt: cmd.expiresAt, summary: cmd.summary, request: cmd.request, state: "pending" }).run();
      return { ok: true, value: { id, expiresAt: cmd.expiresAt } };
    }
    case "approval.decide": {
      const row = tx.select().from(approvals).where(eq(approvals.id, cmd.id)).get();
      if (!row) return refuse("unknown_approval", `no approval request ${cmd.id} (see 'lava ctl approvals')`);
      if (row.state !== "pending") return refuse("conflict", `approval request ${cmd.id} is already ${row.state}${row.decidedBy ? ` by ${row.decidedBy}` : ""}`);
      if (cmd.at >= row.expiresAt) {
        tx.update(approvals).set({ state: "expired", decidedAt: cmd.at }).where(eq(approvals.id, cmd.id)).run();
        return refuse("expired", `approval request ${cmd.id} expired at ${new Date(row.expiresAt).toISOString()}; ask again`);
      }
      if (cmd.approve && cmd.actor === row.requester) {
        return refuse("self_approval", `'${cmd.actor}' asked for request ${cmd.id}: another admin (a token with another subject) must approve it`);
      }
      tx.update(approvals)
        .set({ state: cmd.approve ? "approved" : "denied", decidedBy: cmd.actor, decidedAt: cmd.at, reason: cmd.reason ?? null })
        .where(and(eq(approvals.id, cmd.id), eq(approvals.state, "pending")))
        .run();
      return { ok: true, value: { id: cmd.id, kind: row.kind, requester: row.requester, request: row.request, state: cmd.approve ? "approved" : "denied" } };
    }
    case "approval.expire": {
      const row = tx.select().from(approvals).where(eq(approvals.id, cmd.id)).get();
      if (!row) return refuse("unknown_approval", `no approval request ${cmd.id}`);
      if (row.state !== "pending") return refuse("conflict", `approval request ${cmd.id} is already ${row.state}`);
      if (cmd.at < row.expiresAt) return refuse("conflict", `approval request ${cmd.id} expires only at ${new Date(row.expiresAt).toISOString()}`);
      tx.update(approvals).set({ state: "expired", decidedAt: cmd.at }).where(eq(approvals.id, cmd.id)).run();
      return { ok: true, value: { id: cmd.id } };
    }
  }
}

/** The audit row's target and detail for an approval command. */
export function approvalAudit(cmd: ApprovalCommand, result: ApplyResult): { target: string | null; detail: string | null } {
  if (cmd.type === "approval.request") {
    return { target: result.ok ? `approval ${String(result.value?.id)}` : null, detail: `${cmd.kind}: ${cmd.summary}; expires ${new Date(cmd.expiresAt).toISOString()}` };
  }
  if (cmd.type === "approval.decide") return { target: `approval ${cmd.id}`, detail: `${cmd.approve ? "approve" : "deny"}${cmd.reason ? `: ${cmd.reason}` : ""}` };
  return { target: `approval ${cmd.id}`, detail: null };
}
