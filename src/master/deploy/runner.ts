/**
 * `lava ctl deploy NAME` on the master (docs/api.md "Deploy"): a named
 * action from each agent's config (agent.deploy.<name>), run wave by wave
 * like an upgrade. Each host of a wave gets `deploy {requestId, name,
 * params, timeoutMs}`; its output streams back as it comes; a wave is done
 * when every host in it has a result. A wave in which any host failed (did
 * not run, did not exit 0, timed out, has no channel, is unknown) stops the
 * rollout: the hosts of later waves are `skipped`, unless `continue` is set.
 * No I/O of its own: sending, the router and the clock come in (ExecDeps).
 */
import type { ExecDeps, ExecHostResult, ExecSink } from "../requests/exec.ts";
import { runOne, succeeded } from "../requests/exec.ts";
import type { Target } from "../requests/targets.ts";

export interface DeployOrder {
  name: string;
  params: Record<string, string>;
  /** The master's wait per host (the agent's own timeout may be shorter). */
  timeoutMs: number;
  waveSize: number;
  /** Go on after a failed wave. */
  continueOnFailure: boolean;
}

/** A host's outcome: an exec result, or `skipped` (a later wave after a failed one). */
export type DeployHostResult = Omit<ExecHostResult, "status"> & { status: ExecHostResult["status"] | "skipped"; wave: number };

export type DeployEvent =
  | { type: "start"; name: string; params: Record<string, string>; hosts: number; waves: string[][] }
  | { type: "wave"; wave: number; of: number; hosts: string[] }
  | { type: "output"; host: string; stream: "stdout" | "stderr"; data: string }
  | ({ type: "result" } & DeployHostResult)
  | { type: "done"; hosts: number; ok: number; failed: number; skipped: number; stopped: boolean };

/** Waves of `size` in the order given. */
export function deployWaves(targets: readonly Target[], size: number): Target[][] {
  if (!(Number.isInteger(size) && size >= 1)) throw new Error(`waveSize must be a whole number ≥ 1, got ${size}`);
  const waves: Target[][] = [];
  for (let i = 0; i < targets.length; i += size) waves.push(targets.slice(i, i + size));
  return waves;
}

export const SKIPPED = "not started: an earlier wave failed (run with --continue to go on after a failed wave)";

export async function runDeploy(targets: readonly Target[], order: DeployOrder, deps: ExecDeps, emit: (e: DeployEvent) => void): Promise<{ ok: number; failed: number; skipped: number; stopped: boolean }> {
  const waves = deployWaves(targets, order.waveSize);
  emit({ type: "start", name: order.name, params: order.params, hosts: targets.length, waves: waves.map((w) => w.map((t) => t.host)) });
  const sink: Pick<ExecSink, "output"> = { output: (host, stream, data) => emit({ type: "output", host, stream, data }) };
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let stopped = false;
  for (const [i, wave] of waves.entries()) {
    const n = i + 1;
    if (stopped) {
      for (const t of wave) {
        skipped++;
        emit({ type: "result", host: t.host, wave: n, status: "skipped", exitCode: null, signal: null, error: SKIPPED, stdoutTruncated: false, stderrTruncated: false, durationMs: 0 });
      }
      continue;
    }
    emit({ type: "wave", wave: n, of: waves.length, hosts: wave.map((t) => t.host) });
    const request = {
      kind: "deploy" as const,
      timeoutMs: order.timeoutMs,
      message: (requestId: string) => ({ type: "deploy" as const, requestId, name: order.name, params: order.params, timeoutMs: order.timeoutMs }),
    };
    const results = await Promise.all(
      wave.map(async (t) => {
        const r = await runOne(t, request, deps, sink);
        emit({ type: "result", ...r, wave: n });
        return r;
      }),
    );
    const bad = results.filter((r) => !succeeded(r)).length;
    ok += results.length - bad;
    failed += bad;
    if (bad > 0 && !order.continueOnFailure && i < waves.length - 1) stopped = true;
  }
  emit({ type: "done", hosts: targets.length, ok, failed, skipped, stopped });
  return { ok, failed, skipped, stopped };
}
