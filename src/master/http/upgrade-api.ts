/**
 * Agent self-update (docs/api.md "Agent self-update"): the master serves its
 * own executable, and POST /api/v1/upgrade tells hosts, wave by wave, to
 * fetch it, check its sha256, and re-exec. Progress streams as NDJSON.
 */
import * as v from "valibot";
import { VERSION } from "../../version.ts";
import type { MasterConfig } from "../../config/index.ts";
import type { Remote } from "../requests/remote.ts";
import type { TokenGate } from "../tokens.ts";
import { auditText, auditWriter, ResultAudit } from "../requests/audit.ts";
import { FROM_SOURCE, planUpgrade, upgradeFailed } from "../upgrade/index.ts";
import type { ChangeRoute, Propose } from "./change.ts";
import { HttpError } from "./errors.ts";
import { parseBody, readJson, type Router } from "./router.ts";
import { LineStream, NDJSON, STREAM_BUFFER_BYTES } from "./stream.ts";
import { hasOneTarget, ONE_TARGET, TargetFields, targetSpecOf, type ResolveTargets } from "./targets.ts";

export const BINARY_PATH = "/api/v1/agent/binary";

const UpgradeRequestSchema = v.pipe(v.strictObject(TargetFields), v.check(hasOneTarget, ONE_TARGET));

export interface UpgradeDeps {
  gate: Pick<TokenGate, "check">;
  upgrade: MasterConfig["upgrade"];
  /** This master's executable, its digest, the runner, and the one-at-a-time flag. */
  remote: Pick<Remote, "binary" | "digest" | "upgrades" | "upgradeRunning">;
  targets: ResolveTargets;
  propose: Propose;
  holdOpen(req: Request): void;
  nowMs: () => number;
}

async function digestOrThrow(deps: UpgradeDeps): Promise<{ sizeBytes: number; sha256: string }> {
  if (!deps.remote.binary.compiled) throw new HttpError(409, "from_source", FROM_SOURCE);
  try {
    return await deps.remote.digest.describe();
  } catch (e) {
    throw new HttpError(503, "binary_unreadable", `cannot read this master's executable ${deps.remote.binary.path}: ${(e as Error).message}`);
  }
}

export function upgradeRoutes(r: Router, deps: UpgradeDeps, change: ChangeRoute): void {
  r.on("GET", BINARY_PATH, async (req, _p, url) => {
    // Agents fetch it with their own token; admins may too (to look at it).
    deps.gate.check(req, url, "agent");
    const d = await digestOrThrow(deps);
    return new Response(Bun.file(deps.remote.binary.path), {
      headers: { "content-type": "application/octet-stream", "content-length": String(d.sizeBytes), "x-lava-sha256": d.sha256, "x-lava-version": VERSION },
    });
  });

  change("POST", "/api/v1/upgrade", "upgrade.request", () => null, async (req, _p, _url, c) => {
    const body = parseBody(UpgradeRequestSchema, await readJson(req));
    const { sha256 } = await digestOrThrow(deps);
    if (deps.remote.upgradeRunning) throw new HttpError(409, "conflict", "an upgrade is already running on this master; wait for it to end (lava ctl hosts shows each agent's version)");
    const { targets, summary } = deps.targets(targetSpecOf(body));
    const plan = planUpgrade(targets, VERSION, deps.upgrade.waveSize);
    deps.remote.upgradeRunning = true;
    try {
      await c.commit({ type: "audit.record", action: "upgrade.request", target: auditText(summary), result: `started: ${plan.waves.flat().length} hosts in ${plan.waves.length} waves`, detail: JSON.stringify({ version: VERSION, sha256, waveSize: deps.upgrade.waveSize }) });
    } catch (e) {
      deps.remote.upgradeRunning = false;
      throw e;
    }
    deps.holdOpen(req);
    const stream = new LineStream({ maxBufferedBytes: STREAM_BUFFER_BYTES });
    const audit = new ResultAudit(auditWriter(deps.propose, c.caller, deps.nowMs), "upgrade.result");
    void deps.remote.upgrades
      .run({ plan, targets, path: BINARY_PATH, sha256, timeoutMs: Math.round(deps.upgrade.timeout * 1000) }, (e) => {
        const last = e.type === "done";
        if (e.type === "host" && e.status !== "current") audit.add(e.host, e.error ? `${e.status}: ${e.error}` : `${e.status} ${e.fromVersion ?? "?"} → ${e.version ?? "?"}`, upgradeFailed(e.status) ? "failed" : e.status);
        if (last) stream.end(JSON.stringify(e));
        else stream.push(JSON.stringify(e), false);
      })
      .catch((e: Error) => stream.end(JSON.stringify({ type: "error", error: "internal", detail: `the upgrade failed on the master: ${e.message}` })))
      .finally(() => {
        deps.remote.upgradeRunning = false;
        void audit.finish();
      });
    return new Response(stream.readable, { headers: NDJSON });
  });
}
