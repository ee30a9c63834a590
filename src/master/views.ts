/**
 * The JSON shapes the API answers with (docs/api.md; `ctl load --json`
 * fields are fixed by design §8). Pure.
 */
import { REPORT_FIELDS, type LoadReport } from "../wire/index.ts";
import { channelUp, shownState, type StatusPolicy } from "./hosts/status.ts";
import { hostLoss, type HostEntry } from "./hosts/table.ts";

export type LoadView = { host: string; hostId: number; status: string; ageMs: number | null } & { [K in keyof LoadReport]: number | null } & {
  lossPct: number;
  reportsLost: number;
  reportsReceived: number;
};

export function loadView(h: HostEntry, nowMs: number, policy: StatusPolicy): LoadView {
  const loss = hostLoss(h);
  const out: Record<string, unknown> = {
    host: h.hostname,
    hostId: h.hostId,
    status: shownState(h, nowMs, policy),
    ageMs: h.report ? Math.max(0, nowMs - h.lastReportMs) : null,
  };
  for (const f of REPORT_FIELDS) out[f] = h.report ? h.report[f] : null;
  out.lossPct = Math.round(loss.pct * 100) / 100;
  out.reportsLost = loss.lost;
  out.reportsReceived = loss.received;
  return out as LoadView;
}

export function hostView(h: HostEntry, nowMs: number, policy: StatusPolicy) {
  return {
    host: h.hostname,
    hostId: h.hostId,
    status: shownState(h, nowMs, policy),
    ncpus: h.hardware.ncpus,
    memBytes: h.hardware.memBytes,
    gpus: h.hardware.gpus ?? 0,
    os: h.hardware.os ?? null,
    version: h.version,
    connected: channelUp(h, nowMs),
    /** What the agent says of itself; offline whenever its control channel is down. */
    agentStatus: channelUp(h, nowMs) ? h.agentStatus : "offline",
    agentStatusDetail: channelUp(h, nowMs) ? h.agentStatusDetail : null,
    hostKey: h.hostKey,
    drained: h.drained,
    drainReason: h.drainReason,
    reportAddr: `${h.reportIp.includes(":") ? `[${h.reportIp}]` : h.reportIp}:${h.reportPort}`,
    registeredAt: new Date(h.registeredAtMs).toISOString(),
    lastSeenAt: h.report ? new Date(h.lastReportMs).toISOString() : null,
    // Jobs (docs/jobs.md): the agent's labels; a master runs on the host; it takes no jobs (a master's host without agent.jobs.onMaster).
    labels: h.hardware.labels ?? [],
    onMaster: h.hardware.onMaster === true,
    takesJobs: h.hardware.takesJobs !== false,
  };
}
