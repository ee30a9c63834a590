/**
 * Host state (design §3), derived on demand from the live entry and the
 * clock: nothing to keep in sync. Precedence: unavail and unreach first,
 * then drained, then busy.
 */
import type { HostEntry } from "./table.ts";

import type { HostState } from "../../control/host-states.ts";

export interface StatusPolicy {
  /** Agents' report interval. */
  reportIntervalMs: number;
  busy: { loadPerCpu: number; cpuPercent: number; memPercent: number };
}

/**
 * Silence after which a host is unavail: 3 intervals plus the agents'
 * jitter allowance (±10 % per report, so half an interval covers it).
 */
export const unavailAfterMs = (p: StatusPolicy) => 3.5 * p.reportIntervalMs;

/**
 * The state the scheduler acts on: a host without a control channel to
 * this master is `unreach` (jobs cannot be sent to it).
 */
export function hostState(h: HostEntry, nowMs: number, p: StatusPolicy, connected = h.connected): HostState {
  if (!h.report || nowMs - h.lastReportMs > unavailAfterMs(p)) return "unavail";
  // The agent said it is stopping (a clean shutdown): gone now, not after 3 silent intervals.
  if (h.agentStatus === "offline") return "unavail";
  if (!connected) return "unreach";
  if (h.drained) return "drained";
  const r = h.report;
  const ncpus = r.ncpus > 0 ? r.ncpus : 1;
  const memTotal = r.memUsed + r.memFree;
  if (r.load1 / ncpus > p.busy.loadPerCpu) return "busy";
  if (r.cpuUser + r.cpuSys > p.busy.cpuPercent) return "busy";
  if (memTotal > 0 && (100 * r.memUsed) / memTotal > p.busy.memPercent) return "busy";
  return "ok";
}

/** Control channel up here, or at another master as far as this one knows (HostEntry.channelElsewhereUntilMs). */
export const channelUp = (h: HostEntry, nowMs: number): boolean => h.connected || nowMs < h.channelElsewhereUntilMs;

/**
 * The state people are shown (API, ctl, metrics): as hostState, except that
 * a channel up at the leader (on a follower) or, just after a failover, at
 * the previous leader counts as up, so a failover does not show every host
 * `unreach` while its agent moves over.
 */
export function shownState(h: HostEntry, nowMs: number, p: StatusPolicy): HostState {
  return hostState(h, nowMs, p, channelUp(h, nowMs));
}

export function countStates(hosts: Iterable<HostEntry>, nowMs: number, p: StatusPolicy): Record<HostState, number> & { total: number } {
  const out = { ok: 0, busy: 0, drained: 0, unavail: 0, unreach: 0, total: 0 };
  for (const h of hosts) {
    out[shownState(h, nowMs, p)]++;
    out.total++;
  }
  return out;
}
