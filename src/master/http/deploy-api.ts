/**
 * POST /api/v1/deploy (docs/api.md "Deploy"; `lava ctl deploy NAME`): a
 * named deploy action on hosts, wave by wave (deploy/runner.ts), answered
 * as NDJSON as things happen. The request is audited (`deploy.request`)
 * before anything is sent, each host's outcome after (`deploy.result`,
 * bounded like exec's), whether or not the client still reads.
 */
import * as v from "valibot";
import { DEPLOY_LIMITS, DeployNameSchema, DeployParamsSchema } from "../../control/index.ts";
import { runDeploy } from "../deploy/runner.ts";
import { auditText, auditWriter, ResultAudit } from "../requests/audit.ts";
import type { ChangeRoute } from "./change.ts";
import { resultText, EXEC_TIMEOUT_SEC_MAX, type ExecDeps } from "./exec-api.ts";
import { parseBody, readJson } from "./router.ts";
import { LineStream, NDJSON, STREAM_BUFFER_BYTES } from "./stream.ts";
import { hasOneTarget, ONE_TARGET, TargetFields, targetSpecOf } from "./targets.ts";

export const DEPLOY_WAVE_SIZE_DEFAULT = 10;
export const DEPLOY_TIMEOUT_SEC_DEFAULT = 3600;

export const DeployRequestSchema = v.pipe(
  v.strictObject({
    ...TargetFields,
    name: DeployNameSchema,
    params: v.optional(DeployParamsSchema, {}),
    waveSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(DEPLOY_LIMITS.waveSizeMax, `waveSize: at most ${DEPLOY_LIMITS.waveSizeMax}`)), DEPLOY_WAVE_SIZE_DEFAULT),
    continue: v.optional(v.boolean(), false),
    timeoutSec: v.optional(v.pipe(v.number(), v.minValue(0.001, "timeoutSec must be positive"), v.maxValue(EXEC_TIMEOUT_SEC_MAX, `timeoutSec: at most ${EXEC_TIMEOUT_SEC_MAX} (24 h)`)), DEPLOY_TIMEOUT_SEC_DEFAULT),
  }),
  v.check(hasOneTarget, ONE_TARGET),
);

export type DeployDeps = Omit<ExecDeps, "exec">;

export function deployRoutes(deps: DeployDeps, change: ChangeRoute): void {
  change("POST", "/api/v1/deploy", "deploy.request", () => null, async (req, _p, _url, c) => {
    const body = parseBody(DeployRequestSchema, await readJson(req));
    const { targets, summary } = deps.targets(targetSpecOf(body));
    const waves = Math.ceil(targets.length / body.waveSize);
    await c.commit({
      type: "audit.record",
      action: "deploy.request",
      target: auditText(summary),
      result: `started: ${targets.length} hosts in ${waves} waves`,
      detail: auditText(JSON.stringify({ name: body.name, params: body.params, waveSize: body.waveSize, continue: body.continue, timeoutSec: body.timeoutSec })),
    });
    deps.holdOpen(req);
    const stream = new LineStream({ maxBufferedBytes: STREAM_BUFFER_BYTES });
    const dropped = new Map<string, number>();
    const audit = new ResultAudit(auditWriter(deps.propose, c.caller, deps.nowMs), "deploy.result");
    const order = { name: body.name, params: body.params, timeoutMs: Math.max(1, Math.round(body.timeoutSec * 1000)), waveSize: body.waveSize, continueOnFailure: body.continue };
    void runDeploy(targets, order, { router: deps.agents.requests, send: (id, m) => deps.agents.send(id, m), nowMs: deps.nowMs }, (e) => {
      if (e.type === "output") {
        if (!stream.push(JSON.stringify(e))) dropped.set(e.host, (dropped.get(e.host) ?? 0) + e.data.length);
        return;
      }
      if (e.type === "result") {
        const lost = dropped.get(e.host) ?? 0;
        dropped.delete(e.host);
        stream.push(JSON.stringify({ ...e, stdoutTruncated: e.stdoutTruncated || lost > 0, stderrTruncated: e.stderrTruncated || lost > 0, droppedBytes: lost }), false);
        const text = e.status === "skipped" ? `skipped: ${e.error}` : resultText({ ...e, status: e.status });
        audit.add(e.host, text, e.status === "ok" && e.exitCode === 0 ? "ok" : e.status === "skipped" ? "skipped" : "failed", JSON.stringify({ name: body.name, wave: e.wave, exitCode: e.exitCode, signal: e.signal, error: e.error, durationMs: e.durationMs }));
        return;
      }
      if (e.type === "done") stream.end(JSON.stringify(e));
      else stream.push(JSON.stringify(e), false);
    })
      .catch((e: Error) => stream.end(JSON.stringify({ type: "error", error: "internal", detail: `the deploy failed on the master: ${e.message}` })))
      .finally(() => void audit.finish());
    return new Response(stream.readable, { headers: NDJSON });
  });
}
