/**
 * /metrics in the Prometheus text format (design §10): ingest counters by
 * drop reason, host counts by state, per-host load gauges and report loss.
 * Pure: everything it prints is passed in.
 */
import { DROP_REASONS } from "../../wire/index.ts";
import { HOST_STATES, shownState, type StatusPolicy } from "../hosts/status.ts";
import { hostLoss, type HostEntry } from "../hosts/table.ts";
import type { IngestCounters } from "../ingest.ts";
import type { UdpDrops } from "../kernel.ts";
import type { RemoteMetrics } from "../requests/remote.ts";
import type { TcpReportCounters } from "../tcp-reports.ts";

export interface MetricsInput {
  nowMs: number;
  policy: StatusPolicy;
  hosts: Iterable<HostEntry>;
  ingest: IngestCounters;
  sessions: number;
  kernel: UdpDrops | null;
  uptimeMs: number;
  jobs: Record<string, number>;
  udpErrors: number;
  /** Alerts, agent requests and the alert webhook. */
  remote?: RemoteMetrics;
  /** The TCP report listener, when it is on. */
  tcpReports?: Readonly<TcpReportCounters> | null;
}

const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

const PER_HOST: [name: string, help: string, get: (h: HostEntry) => number | undefined][] = [
  ["lava_host_load1", "1-minute load average", (h) => h.report?.load1],
  ["lava_host_load5", "5-minute load average", (h) => h.report?.load5],
  ["lava_host_load15", "15-minute load average", (h) => h.report?.load15],
  ["lava_host_cpu_user_percent", "user CPU percent of all CPUs over the last interval", (h) => h.report?.cpuUser],
  ["lava_host_cpu_sys_percent", "system CPU percent of all CPUs over the last interval", (h) => h.report?.cpuSys],
  ["lava_host_cpu_idle_percent", "idle CPU percent of all CPUs over the last interval", (h) => h.report?.cpuIdle],
  ["lava_host_mem_used_bytes", "memory in use", (h) => h.report?.memUsed],
  ["lava_host_mem_free_bytes", "memory available", (h) => h.report?.memFree],
  ["lava_host_swap_used_bytes", "swap in use", (h) => h.report?.swapUsed],
  ["lava_host_ncpus", "CPUs", (h) => h.report?.ncpus],
  ["lava_host_procs", "processes", (h) => h.report?.procsTotal],
  ["lava_host_jobs_running", "lava jobs running", (h) => h.report?.jobsRunning],
];

function renderRemote(r: RemoteMetrics, head: (name: string, type: string, help: string) => void, out: string[]): void {
  head("lava_alerts_active", "gauge", "active (firing) alerts by severity");
  for (const [severity, n] of Object.entries(r.alertsActive)) out.push(`lava_alerts_active{severity="${severity}"} ${n}`);
  head("lava_alerts_dropped_total", "counter", "firing alerts refused because the per-host or total bound was reached");
  out.push(`lava_alerts_dropped_total ${r.alertsDropped}`);
  if (r.webhook) {
    head("lava_alert_webhook_total", "counter", "alert webhook deliveries by outcome (sent, failed after retries or refused, dropped from a full queue, retries)");
    for (const [outcome, n] of Object.entries(r.webhook)) out.push(`lava_alert_webhook_total{outcome="${outcome}"} ${n}`);
  }
  head("lava_agent_requests_pending", "gauge", "requests to agents (exec, health, logs, update) waiting for an answer");
  out.push(`lava_agent_requests_pending ${r.requestsPending}`);
  head("lava_agent_requests_total", "counter", "requests to agents and their answers by outcome (unknown, wrongHost, wrongKind: answers dropped)");
  for (const [outcome, n] of Object.entries(r.requests)) out.push(`lava_agent_requests_total{outcome="${outcome}"} ${n}`);
}

export function renderMetrics(m: MetricsInput): string {
  const out: string[] = [];
  const head = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

  head("lava_ingest_accepted_total", "counter", "load reports accepted");
  out.push(`lava_ingest_accepted_total ${m.ingest.accepted}`);
  head("lava_ingest_dropped_total", "counter", "datagrams dropped, by reason");
  for (const r of DROP_REASONS) out.push(`lava_ingest_dropped_total{reason="${r}"} ${m.ingest.dropped[r]}`);
  if (m.kernel) {
    head("lava_udp_socket_drops_total", "counter", "datagrams the kernel dropped on the master's UDP socket (buffer full)");
    out.push(`lava_udp_socket_drops_total ${m.kernel.socketDrops}`);
    head("lava_udp_rcvbuf_errors_total", "counter", "system-wide UDP RcvbufErrors (/proc/net/snmp)");
    out.push(`lava_udp_rcvbuf_errors_total ${m.kernel.rcvbufErrors}`);
  }
  head("lava_udp_errors_total", "counter", "UDP socket errors, mostly announces to agents whose port is gone (ICMP unreachable)");
  out.push(`lava_udp_errors_total ${m.udpErrors}`);
  if (m.tcpReports) {
    const t = m.tcpReports;
    head("lava_tcp_report_connections", "gauge", "TCP report connections open");
    out.push(`lava_tcp_report_connections ${t.open}`);
    head("lava_tcp_report_connections_total", "counter", "TCP report connections by outcome (refused: a bound was reached; closed: idle or a bad length prefix)");
    for (const [outcome, n] of [["accepted", t.accepted], ["refused_per_source", t.refusedPerSource], ["refused_total", t.refusedTotal], ["closed_idle", t.closedIdle], ["closed_bad_frame", t.closedBadFrame]] as const) {
      out.push(`lava_tcp_report_connections_total{outcome="${outcome}"} ${n}`);
    }
    head("lava_tcp_reports_accepted_total", "counter", "load reports accepted over TCP (also in lava_ingest_accepted_total)");
    out.push(`lava_tcp_reports_accepted_total ${t.reports}`);
  }
  head("lava_control_sessions", "gauge", "agents with a registered control channel");
  out.push(`lava_control_sessions ${m.sessions}`);
  head("lava_master_uptime_seconds", "gauge", "seconds since this master started");
  out.push(`lava_master_uptime_seconds ${(m.uptimeMs / 1000).toFixed(3)}`);

  head("lava_jobs", "gauge", "jobs by state");
  for (const [state, n] of Object.entries(m.jobs)) out.push(`lava_jobs{state="${state}"} ${n}`);
  if (m.remote) renderRemote(m.remote, head, out);

  const hosts = [...m.hosts];
  const states = Object.fromEntries(HOST_STATES.map((s) => [s, 0])) as Record<string, number>;
  const stateOf = new Map<HostEntry, string>();
  for (const h of hosts) {
    const s = shownState(h, m.nowMs, m.policy);
    stateOf.set(h, s);
    states[s]!++;
  }
  head("lava_hosts", "gauge", "hosts by state");
  for (const s of HOST_STATES) out.push(`lava_hosts{state="${s}"} ${states[s]}`);

  head("lava_host_up", "gauge", "1 if the host reports (state not unavail)");
  for (const h of hosts) out.push(`lava_host_up{host="${esc(h.hostname)}",state="${stateOf.get(h)}"} ${stateOf.get(h) === "unavail" ? 0 : 1}`);
  for (const [name, help, get] of PER_HOST) {
    head(name, "gauge", help);
    for (const h of hosts) {
      const v = get(h);
      if (v !== undefined) out.push(`${name}{host="${esc(h.hostname)}"} ${v}`);
    }
  }
  head("lava_host_report_age_seconds", "gauge", "seconds since the host's last accepted report");
  for (const h of hosts) if (h.report) out.push(`lava_host_report_age_seconds{host="${esc(h.hostname)}"} ${((m.nowMs - h.lastReportMs) / 1000).toFixed(3)}`);
  head("lava_host_reports_lost_total", "counter", "reports missing by AUTH seq gaps");
  for (const h of hosts) out.push(`lava_host_reports_lost_total{host="${esc(h.hostname)}"} ${hostLoss(h).lost}`);
  head("lava_host_reports_received_total", "counter", "reports accepted");
  for (const h of hosts) out.push(`lava_host_reports_received_total{host="${esc(h.hostname)}"} ${h.receivedTotal}`);
  return out.join("\n") + "\n";
}
