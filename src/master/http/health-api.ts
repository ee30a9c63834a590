/**
 * Health and alerts (docs/api.md "Health and alerts"): the latest self-check
 * of each host, a fresh one on request, and the active (and recently
 * resolved) alerts. Role `read`: these are queries.
 */
import { alertView, type AlertBook } from "../alerts/index.ts";
import { healthView, type HealthBook } from "../health/index.ts";
import type { HostTable } from "../hosts/table.ts";
import type { TokenGate } from "../tokens.ts";
import type { AgentLink } from "./targets.ts";
import { NO_CHANNEL } from "../requests/exec.ts";
import { HttpError, json } from "./errors.ts";
import type { Router } from "./router.ts";

export const HEALTH_REFRESH_TIMEOUT_SEC_DEFAULT = 30;
export const HEALTH_REFRESH_TIMEOUT_SEC_MAX = 300;

const flag = (url: URL, name: string) => {
  const raw = url.searchParams.get(name);
  return raw === "1" || raw === "true" || raw === "";
};

export interface HealthDeps {
  gate: Pick<TokenGate, "check">;
  hosts: HostTable;
  agents: AgentLink;
  /** The latest health per host, and the alerts (requests/remote.ts keeps them). */
  health: HealthBook;
  alerts: AlertBook;
}

export function healthRoutes(r: Router, deps: HealthDeps): void {
  r.on("GET", "/api/v1/health", (req, _p, url) => {
    deps.gate.check(req, url, "read");
    return json(deps.hosts.list().map((h) => healthView(h.hostname, deps.health.get(h.hostId))));
  });

  r.on("GET", "/api/v1/health/:host", async (req, p, url) => {
    deps.gate.check(req, url, "read");
    const h = deps.hosts.byHostname(p.host!);
    if (!h) throw new HttpError(404, "unknown_host", `no host named '${p.host}' is registered (see 'lava ctl hosts')`);
    if (!flag(url, "refresh")) return json(healthView(h.hostname, deps.health.get(h.hostId)));
    const raw = url.searchParams.get("timeout");
    const timeoutSec = raw === null ? HEALTH_REFRESH_TIMEOUT_SEC_DEFAULT : Number(raw);
    if (!(timeoutSec > 0 && timeoutSec <= HEALTH_REFRESH_TIMEOUT_SEC_MAX)) throw new HttpError(400, "bad_request", `timeout: seconds, more than 0 and at most ${HEALTH_REFRESH_TIMEOUT_SEC_MAX}; got '${raw}'`);
    const hostId = h.hostId;
    await new Promise<void>((resolve, reject) => {
      const opened = deps.agents.requests.openRequest(hostId, "health", Math.round(timeoutSec * 1000), {
        onMessage: () => resolve(),
        onFail: (_reason, detail) => reject(new HttpError(409, "no_answer", `${h.hostname}: ${detail}; its last health is still at GET /api/v1/health/${h.hostname}`)),
      });
      if (!opened.ok) return reject(new HttpError(503, "busy", opened.detail));
      if (!deps.agents.send(hostId, { type: "health_check", requestId: opened.requestId })) {
        deps.agents.requests.cancel(opened.requestId);
        reject(new HttpError(409, "no_channel", `${h.hostname}: ${NO_CHANNEL}; it cannot be asked now`));
      }
    });
    return json(healthView(h.hostname, deps.health.get(hostId)));
  });

  r.on("GET", "/api/v1/alerts", (req, _p, url) => {
    deps.gate.check(req, url, "read");
    const active = deps.alerts.list().map(alertView);
    return json(flag(url, "all") ? [...active, ...deps.alerts.resolved().map(alertView)] : active);
  });
}
