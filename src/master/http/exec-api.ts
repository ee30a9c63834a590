/**
 * POST /api/v1/exec (docs/api.md "Remote execution"): one command on many
 * hosts, answered as a stream of NDJSON lines: output as it comes, one
 * result per host, then a summary. Master policy first, then approval (a
 * command on master.exec.requireApproval is held for a second admin and
 * answered 202 with its approval id; docs/api.md "Approvals"), then the
 * audit row of the request, then the fan-out; every host's result is
 * audited too (bounded, see requests/audit.ts), whether or not the client
 * still reads.
 */
import * as v from "valibot";
import type { Claims } from "../../auth/index.ts";
import { JOB_LIMITS } from "../../control/index.ts";
import type { MasterConfig } from "../../config/index.ts";
import { auditText, auditWriter, ResultAudit } from "../requests/audit.ts";
import { runExec, succeeded, type ExecHostResult } from "../requests/exec.ts";
import { checkExecPolicy } from "../requests/policy.ts";
import { summarizeNames, type TargetSpec } from "../requests/targets.ts";
import type { ChangeRoute, Propose } from "./change.ts";
import { HttpError } from "./errors.ts";
import { parseBody, readJson } from "./router.ts";
import { LineStream, NDJSON, STREAM_BUFFER_BYTES } from "./stream.ts";
import { TargetFields, targetSpecOf, hasOneTarget, ONE_TARGET, type AgentLink, type ResolveTargets } from "./targets.ts";
import { execNeedsApproval } from "../approvals/policy.ts";
import { holdForApproval } from "./approval-hold.ts";

export const EXEC_TIMEOUT_SEC_DEFAULT = 60;
export const EXEC_TIMEOUT_SEC_MAX = 24 * 3600;

export const ExecRequestSchema = v.pipe(
  v.strictObject({
    ...TargetFields,
    argv: v.pipe(v.array(v.pipe(v.string(), v.maxLength(JOB_LIMITS.argBytes))), v.minLength(1, "argv must name a command"), v.maxLength(JOB_LIMITS.argvItems)),
    timeoutSec: v.optional(v.pipe(v.number(), v.minValue(0.001, "timeoutSec must be positive"), v.maxValue(EXEC_TIMEOUT_SEC_MAX, `timeoutSec: at most ${EXEC_TIMEOUT_SEC_MAX} (24 h)`)), EXEC_TIMEOUT_SEC_DEFAULT),
  }),
  v.check(hasOneTarget, ONE_TARGET),
);

/** What the audit row and the `--json` summary say of one host's result. */
export function resultText(r: ExecHostResult): string {
  if (r.status === "ok") return r.signal ? `ok signal ${r.signal}` : `ok exit ${r.exitCode ?? "?"}`;
  return r.error ? `${r.status}: ${r.error}` : r.status;
}

export type ExecRequest = v.InferOutput<typeof ExecRequestSchema>;

const specText = (spec: TargetSpec) => ("hosts" in spec ? summarizeNames(spec.hosts) : "all" in spec ? "all" : `queue ${spec.queue}`);

export interface ExecDeps {
  exec: MasterConfig["exec"];
  targets: ResolveTargets;
  agents: AgentLink;
  propose: Propose;
  /** Lifts the HTTP idle timeout for a long streamed answer. */
  holdOpen(req: Request): void;
  nowMs: () => number;
}

export function execRoutes(deps: ExecDeps, change: ChangeRoute): void {
  change("POST", "/api/v1/exec", "exec.request", () => null, async (req, _p, _url, c) => {
    const body = parseBody(ExecRequestSchema, await readJson(req));
    const spec = targetSpecOf(body);
    const detail = JSON.stringify({ argv: body.argv, timeoutSec: body.timeoutSec });
    const verdict = checkExecPolicy(deps.exec, body.argv);
    if (!verdict.ok) {
      await c.commit({ type: "audit.record", action: "exec.refused", target: auditText(specText(spec)), result: "refused: master policy", detail: auditText(`${verdict.detail}; request ${detail}`) });
      throw new HttpError(403, "refused", verdict.detail);
    }
    const held = execNeedsApproval(deps.exec.requireApproval, body.argv);
    if (held !== null) {
      // Targets are checked now (an unknown queue is a 400 at once) and resolved again when it runs.
      deps.targets(spec);
      return holdForApproval(deps, c, { kind: "exec", summary: `${body.argv.join(" ")} on ${specText(spec)}`, request: body, why: `'${body.argv[0]}' is on master.exec.requireApproval ('${held}')` });
    }
    deps.holdOpen(req);
    return startExec(deps, c.caller, body, (cmd) => c.commit(cmd).then(() => {}));
  });
}

/**
 * Runs an exec request now: the audit row of the request (through `commit`,
 * which fails the request if it cannot be written), then the fan-out as an
 * NDJSON stream. `caller` is whom the rows name; `note` goes into the
 * request row (an approved request says by whom).
 */
export async function startExec(deps: ExecDeps, caller: Claims, body: ExecRequest, commit: (cmd: AuditCommand) => Promise<void>, note?: string): Promise<Response> {
  const spec = targetSpecOf(body);
  const detail = JSON.stringify({ argv: body.argv, timeoutSec: body.timeoutSec, ...(note ? { note } : {}) });
  const { targets, summary } = deps.targets(spec);
  await commit({ type: "audit.record", action: "exec.request", target: auditText(summary), result: `started on ${targets.length} hosts`, detail: auditText(detail) });

  const stream = new LineStream({ maxBufferedBytes: STREAM_BUFFER_BYTES });
  // Bun sends the status and headers with the first chunk: say at once what will come.
  stream.push(JSON.stringify({ type: "start", hosts: targets.length, argv: body.argv, timeoutSec: body.timeoutSec }), false);
  const dropped = new Map<string, { stdout: number; stderr: number }>();
  const audit = new ResultAudit(auditWriter(deps.propose, caller, deps.nowMs), "exec.result");
  const timeoutMs = Math.max(1, Math.round(body.timeoutSec * 1000));
  void runExec(targets, { argv: body.argv, timeoutMs, deny: deps.exec.deny }, deps.exec.maxParallel, { router: deps.agents.requests, send: (id, m) => deps.agents.send(id, m), nowMs: deps.nowMs }, {
    output(host, s, data) {
      if (stream.push(JSON.stringify({ type: "output", host, stream: s, data }))) return;
      const d = dropped.get(host) ?? { stdout: 0, stderr: 0 };
      d[s] += data.length;
      dropped.set(host, d);
    },
    result(r) {
      const d = dropped.get(r.host);
      dropped.delete(r.host);
      const line = { type: "result", ...r, stdoutTruncated: r.stdoutTruncated || (d?.stdout ?? 0) > 0, stderrTruncated: r.stderrTruncated || (d?.stderr ?? 0) > 0, droppedBytes: (d?.stdout ?? 0) + (d?.stderr ?? 0) };
      stream.push(JSON.stringify(line), false);
      audit.add(r.host, resultText(r), succeeded(r) ? "ok" : "failed", JSON.stringify({ exitCode: r.exitCode, signal: r.signal, error: r.error, durationMs: r.durationMs }));
    },
  })
    .then((sum) => stream.end(JSON.stringify({ type: "done", ...sum })))
    .catch((e: Error) => stream.end(JSON.stringify({ type: "error", error: "internal", detail: `the exec failed on the master: ${e.message}` })))
    .finally(() => void audit.finish());
  return new Response(stream.readable, { headers: NDJSON });
}

/** The audit.record a handler commits (time and caller stamped by the commit). */
export type AuditCommand = { type: "audit.record"; action: string; target?: string; result: string; detail?: string };
