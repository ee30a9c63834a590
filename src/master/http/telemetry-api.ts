/**
 * `GET /api/v1/hosts/:name/telemetry` (role `read`; docs/api.md
 * "Telemetry"): the latest telemetry the host's agent sent, as it sent it,
 * with when this master received it.
 */
import type { HostTable } from "../hosts/table.ts";
import type { TelemetryBook } from "../telemetry.ts";
import type { TokenGate } from "../tokens.ts";
import { jsonFor } from "./compress.ts";
import { HttpError } from "./errors.ts";
import type { Router } from "./router.ts";

export interface TelemetryDeps {
  gate: TokenGate;
  hosts: HostTable;
  telemetry: TelemetryBook;
  nowMs: () => number;
}

export function telemetryRoutes(r: Router, deps: TelemetryDeps): void {
  r.on("GET", "/api/v1/hosts/:name/telemetry", (req, p, url) => {
    deps.gate.check(req, url, "read");
    const host = deps.hosts.byHostname(p.name!);
    if (!host) throw new HttpError(404, "unknown_host", `no host named '${p.name}' is registered (see 'lava ctl hosts')`);
    const t = deps.telemetry.get(host.hostId);
    if (!t) throw new HttpError(404, "no_telemetry", `no telemetry from ${host.hostname} since this master started: its agent sends it every agent.telemetry.interval (60 s) unless agent.telemetry.enabled is false`);
    const { type: _type, ...body } = t.msg;
    return jsonFor(req, { host: host.hostname, hostId: host.hostId, receivedAt: new Date(t.receivedMs).toISOString(), ageMs: Math.max(0, deps.nowMs() - t.receivedMs), ...body });
  });
}
