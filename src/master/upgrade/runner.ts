/**
 * Runs an upgrade plan wave by wave. Each host of a wave gets
 * `update_agent {requestId, path, sha256, version}`; it answers
 * `command_result` (ok: it is about to re-exec itself; anything else: it
 * keeps running the old binary) and, if ok, comes back with a new
 * registration. A host is done when it registered with the target version
 * (ok), said it would not (failed), registered again with another version
 * after saying ok (failed), or did neither within `timeoutMs` (timeout).
 *
 * A disconnect is expected (the agent restarts), so it ends nothing; only
 * the timeout does. No I/O of its own: sending, the router, the clock and
 * the timer come in; registrations are fed in through `registered()`.
 */
import type { UpdateAgent } from "../../control/index.ts";
import type { RequestRouter } from "../requests/router.ts";
import { formatSeconds } from "../requests/router.ts";
import type { Target, TargetHost } from "../requests/targets.ts";
import { NO_CHANNEL, UNKNOWN_HOST } from "../requests/exec.ts";
import { stopAfterWave, type UpgradePlan } from "./plan.ts";

export type UpgradeStatus = "ok" | "current" | "failed" | "timeout" | "error" | "skipped";

export interface UpgradeHostResult {
  host: string;
  status: UpgradeStatus;
  /** The version it ran before. */
  fromVersion: string | null;
  /** The version it runs now, as far as the master knows. */
  version: string | null;
  error: string | null;
  durationMs: number;
}

export type UpgradeEvent =
  | { type: "plan"; target: string; waves: string[][]; current: string[]; unreachable: string[]; unknown: string[] }
  | { type: "wave"; wave: number; hosts: string[] }
  | ({ type: "host" } & UpgradeHostResult)
  | { type: "done"; hosts: number; ok: number; current: number; failed: number; skipped: number; stopped: boolean };

export interface UpgradeDeps {
  router: RequestRouter;
  send(hostId: number, msg: UpdateAgent): boolean;
  nowMs(): number;
  setTimer(f: () => void, ms: number): () => void;
}

export interface UpgradeOrder {
  plan: UpgradePlan;
  targets: readonly Target[];
  /** Where agents fetch the binary, its digest. */
  path: string;
  sha256: string;
  timeoutMs: number;
}

/** A failure for the stop rule and for ctl's exit code. */
export const upgradeFailed = (s: UpgradeStatus): boolean => s === "failed" || s === "timeout" || s === "error";

export class UpgradeRunner {
  /** hostId → what to do with its next registration. */
  private readonly waiting = new Map<number, (version: string) => void>();

  constructor(private readonly deps: UpgradeDeps) {}

  /** A host registered (after its old session, if any, was failed in the router). */
  registered(hostId: number, version: string): void {
    this.waiting.get(hostId)?.(version);
  }

  async run(order: UpgradeOrder, emit: (e: UpgradeEvent) => void): Promise<UpgradeHostResult[]> {
    const { plan } = order;
    const byName = new Map(order.targets.map((t) => [t.host, t.entry]));
    const results: UpgradeHostResult[] = [];
    const report = (r: UpgradeHostResult) => {
      results.push(r);
      emit({ type: "host", ...r });
    };
    emit({ type: "plan", target: plan.target, waves: plan.waves, current: plan.current, unreachable: plan.unreachable, unknown: plan.unknown });
    for (const h of plan.current) report({ host: h, status: "current", fromVersion: plan.target, version: plan.target, error: null, durationMs: 0 });
    for (const h of plan.unknown) report({ host: h, status: "error", fromVersion: null, version: null, error: UNKNOWN_HOST, durationMs: 0 });
    for (const h of plan.unreachable) {
      const v = byName.get(h)?.version ?? null;
      report({ host: h, status: "error", fromVersion: v, version: v, error: NO_CHANNEL, durationMs: 0 });
    }
    let stopped = false;
    for (const [i, wave] of plan.waves.entries()) {
      if (stopped) {
        for (const h of wave) {
          const v = byName.get(h)?.version ?? null;
          report({ host: h, status: "skipped", fromVersion: v, version: v, error: "not started: more than half of an earlier wave failed", durationMs: 0 });
        }
        continue;
      }
      emit({ type: "wave", wave: i + 1, hosts: wave });
      const done = await Promise.all(wave.map((h) => this.one(h, byName.get(h)!, order).then((r) => (report(r), r))));
      const failed = done.filter((r) => upgradeFailed(r.status)).length;
      if (stopAfterWave(wave.length, failed) && i < plan.waves.length - 1) stopped = true;
    }
    const count = (s: UpgradeStatus) => results.filter((r) => r.status === s).length;
    emit({ type: "done", hosts: results.length, ok: count("ok"), current: count("current"), failed: results.filter((r) => upgradeFailed(r.status)).length, skipped: count("skipped"), stopped });
    return results;
  }

  private one(host: string, entry: TargetHost, order: UpgradeOrder): Promise<UpgradeHostResult> {
    const started = this.deps.nowMs();
    const from = entry.version;
    const target = order.plan.target;
    return new Promise<UpgradeHostResult>((resolve) => {
      let saidOk = false;
      let finished = false;
      let requestId: string | null = null;
      const finish = (status: UpgradeStatus, version: string | null, error: string | null) => {
        if (finished) return;
        finished = true;
        cancelTimer();
        if (this.waiting.get(entry.hostId) === onRegistered) this.waiting.delete(entry.hostId);
        if (requestId !== null) this.deps.router.cancel(requestId);
        resolve({ host, status, fromVersion: from, version, error, durationMs: this.deps.nowMs() - started });
      };
      const onRegistered = (version: string) => {
        if (version === target) finish("ok", version, null);
        else if (saidOk) finish("failed", version, `registered again with version ${version} after accepting the update; ${target} was expected (did the new binary start?)`);
        // Before the agent said ok, a new registration on the old version is a reconnect: keep waiting.
      };
      const cancelTimer = this.deps.setTimer(
        () => finish("timeout", saidOk ? null : from, `did not come back on version ${target} within ${formatSeconds(order.timeoutMs)} (master.upgrade.timeout)`),
        order.timeoutMs,
      );
      this.waiting.set(entry.hostId, onRegistered);
      const opened = this.deps.router.openRequest(entry.hostId, "update", order.timeoutMs, {
        onMessage: (msg) => {
          if (msg.type !== "command_result") return;
          requestId = null;
          if (msg.status === "ok") saidOk = true;
          else finish("failed", from, `the agent did not update (${msg.status}${msg.error ? `: ${msg.error}` : ""}); it keeps running ${from}`);
        },
        // A disconnect is the agent restarting (or a blip): the registration or the timer decides.
        onFail: () => {
          requestId = null;
        },
      });
      if (!opened.ok) {
        finish("error", from, `master busy: ${opened.detail}`);
        return;
      }
      requestId = opened.requestId;
      if (!this.deps.send(entry.hostId, { type: "update_agent", requestId, path: order.path, sha256: order.sha256, version: target })) finish("error", from, NO_CHANNEL);
    });
  }
}
