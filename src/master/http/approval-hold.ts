/**
 * Holding a request for a second admin (docs/api.md "Approvals"): the hook
 * the exec and jobs APIs call before they run or submit anything. The
 * routes that decide are in approvals-api.ts.
 */
import { APPROVAL_REQUEST_CHARS_MAX } from "../../store/index.ts";
import type { MasterConfig } from "../../config/index.ts";
import { auditText } from "../requests/audit.ts";
import type { Change } from "./change.ts";
import { HttpError, json } from "./errors.ts";

export interface Held {
  kind: "exec" | "job";
  /** One line for people (listed by `lava ctl approvals`). */
  summary: string;
  /** What runs once approved: the exec body, or the job.submit command. */
  request: unknown;
  /** Why it is held, for the answer. */
  why: string;
}

/** Holds a request for a second admin: 202 {pending, id, kind, expiresAt, detail}. */
export interface ApprovalHoldDeps {
  exec: Pick<MasterConfig["exec"], "approvalTtl">;
  nowMs: () => number;
}

export async function holdForApproval(deps: ApprovalHoldDeps, c: Change, held: Held): Promise<Response> {
  const request = JSON.stringify(held.request);
  if (request.length > APPROVAL_REQUEST_CHARS_MAX) throw new HttpError(413, "too_large", `a request held for approval is at most ${APPROVAL_REQUEST_CHARS_MAX} characters of JSON`);
  const expiresAt = deps.nowMs() + Math.round(deps.exec.approvalTtl * 1000);
  const a = await c.commit({ type: "approval.request", kind: held.kind, summary: auditText(held.summary), request, expiresAt });
  const id = a.result.ok ? (a.result.value?.id as number) : 0;
  return json({ pending: true, id, kind: held.kind, expiresAt: new Date(expiresAt).toISOString(), detail: `${held.why}: another admin must approve it ('lava ctl approve ${id}') before ${new Date(expiresAt).toISOString()}` }, 202);
}

/**
 * The jobs API's hook before it proposes `job.submit`: a queue with
 * requireApproval holds the job (202); otherwise null and the submit goes on.
 */
export async function holdJobForApproval(deps: ApprovalHoldDeps & { queues: MasterConfig["queues"] }, c: Change, cmd: { type: "job.submit"; queue: string; argv: string[] }): Promise<Response | null> {
  if (!deps.queues[cmd.queue]?.requireApproval) return null;
  return holdForApproval(deps, c, { kind: "job", summary: `job ${cmd.argv.join(" ")} on queue ${cmd.queue}`, request: cmd, why: `queue '${cmd.queue}' requires approval (master.queues.${cmd.queue}.requireApproval)` });
}

