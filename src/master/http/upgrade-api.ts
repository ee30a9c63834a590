/**
 * Agent self-update (docs/api.md "Agent self-update"): the master serves its
 * own executable, and POST /api/v1/upgrade tells hosts, wave by wave, to
 * fetch it, check its sha256, and re-exec. Progress streams as NDJSON.
 */
import * as v from "valibot";
import { VERSION } from "../../version.ts";
import type { MasterContext } from "../context.ts";
import { auditText, auditWriter, ResultAudit } from "../requests/audit.ts";
import { FROM_SOURCE, planUpgrade, upgradeFailed } from "../upgrade/index.ts";
import type { ChangeRoute } from "./api.ts";
import { parseBody } from "./api.ts";
import { HttpError } from "./errors.ts";
import { readJson, type Router } from "./router.ts";
import { LineStream, NDJSON, STREAM_BUFFER_BYTES } from "./stream.ts";
import { hasOneTarget, ONE_TARGET, resolveOrThrow, TargetFields, targetSpecOf } from "./targets.ts";

export const BINARY_PATH = "/api/v1/agent/binary";

const UpgradeRequestSchema = v.pipe(v.strictObject(TargetFields), v.check(hasOneTarget, ONE_TARGET));

async function digestOrThrow(ctx: MasterContext): Promise<{ sizeBytes: number; sha256: string }> {
  if (!ctx.remote.binary.compiled) throw new HttpError(409, "from_source", FROM_SOURCE);
  try {
    return await ctx.remote.digest.describe();
  } catch (e) {
    throw new HttpError(503, "binary_unreadable", `cannot read this master's executable ${ctx.remote.binary.path}: ${(e as Error).message}`);
  }
}

export function upgradeRoutes(r: Router, ctx: MasterContext, change: ChangeRoute): void {
  r.on("GET", BINARY_PATH, async (req, _p, url) => {
    // Agents fetch it with their own token; admins may too (to look at it).
    ctx.gate.check(req, url, "agent");
    const d = await digestOrThrow(ctx);
    return new Response(Bun.file(ctx.remote.binary.path), {
      headers: { "content-type": "application/octet-stream", "content-length": String(d.sizeBytes), "x-lava-sha256": d.sha256, "x-lava-version": VERSION },
    });
  });

  change("POST", "/api/v1/upgrade", "upgrade.request", () => null, async (req, _p, _url, c) => {
    const body = parseBody(UpgradeRequestSchema, await readJson(req));
    const { sha256 } = await digestOrThrow(ctx);
    if (ctx.remote.upgradeRunning) throw new HttpError(409, "conflict", "an upgrade is already running on this master; wait for it to end (lava ctl hosts shows each agent's version)");
    const { targets, summary } = resolveOrThrow(ctx, targetSpecOf(body));
    const plan = planUpgrade(targets, VERSION, ctx.config.upgrade.waveSize);
    ctx.remote.upgradeRunning = true;
    try {
      await c.commit({ type: "audit.record", action: "upgrade.request", target: auditText(summary), result: `started: ${plan.waves.flat().length} hosts in ${plan.waves.length} waves`, detail: JSON.stringify({ version: VERSION, sha256, waveSize: ctx.config.upgrade.waveSize }) });
    } catch (e) {
      ctx.remote.upgradeRunning = false;
      throw e;
    }
    ctx.holdOpen(req);
    const stream = new LineStream({ maxBufferedBytes: STREAM_BUFFER_BYTES });
    const audit = new ResultAudit(auditWriter((cmd) => ctx.state.propose(cmd), c.caller, ctx.nowMs), "upgrade.result");
    void ctx.remote.upgrades
      .run({ plan, targets, path: BINARY_PATH, sha256, timeoutMs: Math.round(ctx.config.upgrade.timeout * 1000) }, (e) => {
        const last = e.type === "done";
        if (e.type === "host" && e.status !== "current") audit.add(e.host, e.error ? `${e.status}: ${e.error}` : `${e.status} ${e.fromVersion ?? "?"} → ${e.version ?? "?"}`, upgradeFailed(e.status) ? "failed" : e.status);
        if (last) stream.end(JSON.stringify(e));
        else stream.push(JSON.stringify(e), false);
      })
      .catch((e: Error) => stream.end(JSON.stringify({ type: "error", error: "internal", detail: `the upgrade failed on the master: ${e.message}` })))
      .finally(() => {
        ctx.remote.upgradeRunning = false;
        void audit.finish();
      });
    return new Response(stream.readable, { headers: NDJSON });
  });
}
