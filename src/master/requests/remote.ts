/**
 * Everything the master does with agents besides load and jobs: requests
 * and their answers (exec, health checks, logs, self-update), the latest
 * health per host, active alerts and their webhook. server.ts hands it the
 * control channel's reports and session ends; the HTTP handlers use its
 * parts. The one timer here enforces request deadlines and the alerts'
 * re-send grace.
 */
import { newTokenId } from "../../auth/index.ts";
import type { AgentReport, MasterMessage } from "../../control/index.ts";
import type { MasterConfig } from "../../config/index.ts";
import { LavaError } from "../../errors.ts";
import { logger } from "../../log/index.ts";
import { AlertBook, checkWebhookUrl, webhookPayload, WebhookSender, type AlertChange, type WebhookCounters, type Severity } from "../alerts/index.ts";
import { HealthBook } from "../health/index.ts";
import type { HostTable } from "../hosts/table.ts";
import { BinaryDigest, selfBinary, UpgradeRunner, type SelfBinary } from "../upgrade/index.ts";
import { RequestRouter, type RouterCounters } from "./router.ts";

const log = logger("remote");

/** How often deadlines are checked: a request ends at most this late. */
export const SWEEP_INTERVAL_MS = 250;
export const DISCONNECTED = "host disconnected mid-request";
const SHUTTING_DOWN = "the master is shutting down";

export interface RemoteDeps {
  config: MasterConfig;
  hosts: HostTable;
  send(hostId: number, msg: MasterMessage): boolean;
  nowMs(): number;
}

export interface RemoteMetrics {
  alertsActive: Record<Severity, number>;
  alertsDropped: number;
  webhook: WebhookCounters | null;
  requestsPending: number;
  requests: RouterCounters;
}

export class Remote {
  readonly router: RequestRouter;
  readonly health = new HealthBook();
  readonly alerts = new AlertBook();
  readonly webhook: WebhookSender | null;
  readonly upgrades: UpgradeRunner;
  readonly binary: SelfBinary = selfBinary();
  readonly digest: BinaryDigest;
  /** One upgrade at a time. */
  upgradeRunning = false;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly deps: RemoteDeps) {
    const url = deps.config.alerts.webhook;
    if (url) {
      const bad = checkWebhookUrl(url);
      if (bad) throw new LavaError(bad, "usage");
    }
    this.webhook = url ? new WebhookSender(url) : null;
    this.router = new RequestRouter(deps.nowMs, newTokenId, undefined, (e) => log.error("request handler failed", e));
    this.upgrades = new UpgradeRunner({
      router: this.router,
      send: (hostId, msg) => deps.send(hostId, msg),
      nowMs: deps.nowMs,
      setTimer: (f, ms) => {
        // Never what keeps a stopping master's process alive.
        const t = setTimeout(f, ms);
        t.unref?.();
        return () => clearTimeout(t);
      },
    });
    this.digest = new BinaryDigest(this.binary.path);
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
  }

  /** Command output and results, health, alerts and log lines from a registered agent. */
  onReport(hostId: number, msg: AgentReport): void {
    if (msg.type === "alert") {
      const host = this.deps.hosts.byHostId(hostId);
      if (host) this.notify(this.alerts.apply(hostId, host.hostname, msg, this.deps.nowMs()));
      return;
    }
    if (msg.type === "health") {
      this.health.set(hostId, msg, this.deps.nowMs());
      if (msg.requestId === undefined) return;
    }
    const outcome = this.router.deliver(hostId, msg);
    if (outcome !== "delivered") log.debug(`dropped ${msg.type} from host ${hostId}: ${outcome} request ${msg.requestId ?? "(none)"}`);
  }

  /** The host's session ended: its open requests fail now. */
  onDisconnected(hostId: number): void {
    this.router.hostGone(hostId, DISCONNECTED);
  }

  /** A host registered: requests sent on an earlier session are lost; alerts must be re-sent. */
  onRegistered(hostId: number, hostname: string, version: string): void {
    this.router.hostGone(hostId, `${DISCONNECTED} (it registered again on a new session)`);
    this.alerts.hostRegistered(hostname, this.deps.nowMs());
    this.upgrades.registered(hostId, version);
  }

  onHostRemoved(hostId: number): void {
    this.router.hostGone(hostId, `${DISCONNECTED} (host removed by an admin)`);
    this.health.remove(hostId);
    for (const c of this.alerts.hostRemoved(hostId, this.deps.nowMs())) this.notify(c);
  }

  metrics(): RemoteMetrics {
    return {
      alertsActive: this.alerts.counts(),
      alertsDropped: this.alerts.dropped,
      webhook: this.webhook ? { ...this.webhook.counters } : null,
      requestsPending: this.router.pending,
      requests: { ...this.router.counters },
    };
  }

  /** Ends every open request, saying why: before the agents' channels close, which would end them as "disconnected". */
  endRequests(): void {
    this.router.failAll(SHUTTING_DOWN);
  }

  stop(): void {
    clearInterval(this.timer);
    this.endRequests();
    this.webhook?.stop();
  }

  private sweep(): void {
    try {
      this.router.sweep();
      for (const c of this.alerts.sweep(this.deps.nowMs())) this.notify(c);
    } catch (e) {
      log.error("request sweep failed", e);
    }
  }

  /** Alerts are not actions, so they are not audited; they are logged and sent to the webhook. */
  private notify(change: AlertChange | null): void {
    if (!change) return;
    const a = change.alert;
    const text = `alert ${a.id} on ${a.host} ${change.kind === "resolved" ? "resolved" : change.kind === "changed" ? `now ${a.severity}` : `firing (${a.severity})`}: ${a.message}`;
    if (change.kind === "resolved" || a.severity === "info") log.info(text);
    else log.warn(text);
    this.webhook?.enqueue(webhookPayload(a));
  }
}
