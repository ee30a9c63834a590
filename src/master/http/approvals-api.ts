/**
 * Approvals (docs/api.md "Approvals"; seed v0.2 "command approval"): an exec
 * whose command is on master.exec.requireApproval, or a job submitted to a
 * queue with requireApproval, is held (`approval.request` through the log,
 * so a failover keeps it) and answered 202 with its id. Another admin then
 * approves it (it runs now, as its requester, with the approval noted) or
 * denies it; undecided, it expires. The apply refuses self-approval, a
 * second decision and a late one (src/store/apply-approvals.ts), so no
 * route here can get around them. Every step is audited.
 *
 *   GET  /api/v1/approvals[?all=1]        admin: pending (or all, newest 1000) requests
 *   GET  /api/v1/approvals/:id            admin: one, with the held request
 *   POST /api/v1/approvals/:id/approve    admin, not the requester: runs it (exec: NDJSON as /api/v1/exec)
 *   POST /api/v1/approvals/:id/deny       admin: drops it, with {reason}
 */
import * as v from "valibot";
import { approvalById, CommandSchema, listApprovals, type ApprovalRow } from "../../store/index.ts";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { TokenGate } from "../tokens.ts";
import type { Change, ChangeRoute } from "./change.ts";
import { HttpError, json } from "./errors.ts";
import { linearizable, parseBody, readJson, type Router } from "./router.ts";
import { ExecRequestSchema, startExec, type AuditCommand, type ExecDeps } from "./exec-api.ts";

const DecideSchema = v.strictObject({ reason: v.optional(v.pipe(v.string(), v.maxLength(1000))) });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function approvalView(r: ApprovalRow, withRequest = false) {
  return {
    id: r.id,
    kind: r.kind,
    state: r.state,
    requester: r.requester,
    requestedAt: iso(r.requestedAt),
    expiresAt: iso(r.expiresAt),
    summary: r.summary,
    decidedBy: r.decidedBy,
    decidedAt: iso(r.decidedAt),
    reason: r.reason,
    ...(withRequest ? { request: JSON.parse(r.request) as unknown } : {}),
  };
}

function idOf(raw: string | undefined): number {
  const id = Number(raw);
  if (!Number.isInteger(id) || id < 1 || id > Number.MAX_SAFE_INTEGER) throw new HttpError(400, "bad_request", `an approval id is a whole number ≥ 1, got '${raw}'`);
  return id;
}

/** A decision through the log, its refusals as the right status. */
async function decide(c: Change, id: number, approve: boolean, reason: string | undefined) {
  try {
    return await c.commit({ type: "approval.decide", id, approve, ...(reason ? { reason } : {}) });
  } catch (e) {
    if (e instanceof HttpError && e.code === "unknown_approval") throw new HttpError(404, e.code, e.detail);
    if (e instanceof HttpError && e.code === "self_approval") throw new HttpError(403, e.code, e.detail);
    throw e;
  }
}

export interface ApprovalRouteDeps extends ExecDeps {
  gate: Pick<TokenGate, "check">;
  db: BunSQLiteDatabase;
  barrier: () => Promise<void>;
}

export function approvalRoutes(r: Router, deps: ApprovalRouteDeps, change: ChangeRoute): void {
  r.on("GET", "/api/v1/approvals", linearizable(deps.barrier, (req, _p, url) => {
    deps.gate.check(req, url, "admin");
    return json(listApprovals(deps.db, { all: url.searchParams.get("all") === "1" }).map((a) => approvalView(a)));
  }));

  r.on("GET", "/api/v1/approvals/:id", linearizable(deps.barrier, (req, p, url) => {
    deps.gate.check(req, url, "admin");
    const row = approvalById(deps.db, idOf(p.id));
    if (!row) throw new HttpError(404, "unknown_approval", `no approval request ${p.id} (see 'lava ctl approvals --all')`);
    return json(approvalView(row, true));
  }));

  change("POST", "/api/v1/approvals/:id/deny", "approval.decide", (p) => `approval ${p.id}`, async (req, p, _url, c) => {
    const id = idOf(p.id);
    const body = parseBody(DecideSchema, await readJson(req));
    await decide(c, id, false, body.reason);
    return json({ id, state: "denied", decidedBy: c.caller.sub, reason: body.reason ?? null });
  });

  change("POST", "/api/v1/approvals/:id/approve", "approval.decide", (p) => `approval ${p.id}`, async (req, p, _url, c) => {
    const id = idOf(p.id);
    const body = parseBody(DecideSchema, await readJson(req));
    const applied = await decide(c, id, true, body.reason);
    const held = applied.result.ok ? (applied.result.value as { kind: string; requester: string; request: string }) : null;
    if (!held) throw new HttpError(500, "internal", "the approval was recorded without its request");
    const note = `approval ${id} by ${c.caller.sub}`;
    // What was held runs as its requester's (the audit rows name them), the approval noted.
    const asRequester = { ...c.caller, sub: held.requester, role: "admin" as const };
    const commitAsRequester = async (cmd: AuditCommand) => {
      const a = await deps.propose({ ...cmd, at: deps.nowMs(), actor: held.requester, actorRole: "admin" });
      if (!a.result.ok) throw new HttpError(409, a.result.error, a.result.detail);
    };
    if (held.kind === "exec") {
      const exec = v.safeParse(ExecRequestSchema, JSON.parse(held.request));
      if (!exec.success) throw new HttpError(409, "bad_request", `approval ${id} holds an exec this master cannot read: ${v.summarize(exec.issues)}`);
      deps.holdOpen(req);
      return startExec(deps, asRequester, exec.output, commitAsRequester, note);
    }
    const cmd = v.safeParse(CommandSchema, { ...(JSON.parse(held.request) as object), at: deps.nowMs(), actor: held.requester, actorRole: "admin" });
    if (!cmd.success || cmd.output.type !== "job.submit") throw new HttpError(409, "bad_request", `approval ${id} holds a job this master cannot read${cmd.success ? "" : `: ${v.summarize(cmd.issues)}`}`);
    const a = await deps.propose(cmd.output);
    if (!a.result.ok) throw new HttpError(409, a.result.error, `approved, but the job was refused: ${a.result.detail}`);
    await commitAsRequester({ type: "audit.record", action: "job.approved", target: String(a.result.value?.jobId), result: "ok", detail: note });
    return json({ id, state: "approved", kind: "job", jobId: a.result.value?.jobId as number }, 201);
  });
}
