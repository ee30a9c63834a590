/**
 * /metrics in the Prometheus text format (design §10): build and process
 * facts, ingest counters by drop reason, host counts by state, per-host
 * state, load gauges and report loss, jobs. Pure: everything it prints is
 * passed in. Each family is rendered by a small function writing into one
 * MetricsText, so a new group (e.g. telemetry gauges) is one more function
 * called from renderMetrics.
 *
 * Conventions (docs/api.md "Metrics"): base units (seconds, bytes), ratios
 * 0–1 named `_ratio`, counters end in `_total`, one series per label set
 * that never changes with the value (host states are `lava_host_state`
 * series of 0/1, like kube-state-metrics).
 */
import { DROP_REASONS } from "../../wire/index.ts";
import { HOST_STATES } from "../../control/host-states.ts";
import { shownState, type StatusPolicy } from "../hosts/status.ts";
import { hostLoss, type HostEntry } from "../hosts/table.ts";
import type { IngestCounters } from "../ingest.ts";
import type { JobCounters } from "../jobs/manager.ts";
import type { UdpDrops } from "../kernel.ts";
import type { ProcessStats } from "../process-stats.ts";
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
  /** Jobs by state now (the durable table). */
  jobs: Record<string, number>;
  /** Jobs submitted and ended since this master started. */
  jobCounters: JobCounters;
  udpErrors: number;
  build: { version: string; commit: string };
  process: ProcessStats;
  /** Alerts, agent requests and the alert webhook. */
  remote?: RemoteMetrics;
  /** The TCP report listener, when it is on. */
  tcpReports?: Readonly<TcpReportCounters> | null;
  /** Control-channel refusals by reason (control/refusals.ts) and resumed sessions. */
  control?: { refused: Record<string, number>; resumed: number };
  /** The load history's counters (src/master/history/file.ts), when it is on. */
  history?: HistoryCounters | null;
}

/** What the load history counts (HistoryFile.counters, and its writes to the file). */
export interface HistoryCounters {
  refused: number;
  hostsNotKept: number;
  writeErrors: number;
  flushes: number;
  writes: number;
}

/** A label value in the text format: backslash, double quote and newline escaped. */
const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** Lines of the exposition, written family by family. */
export class MetricsText {
  private readonly out: string[] = [];

  /** `# HELP` and `# TYPE` of a family; its samples follow. */
  family(name: string, type: "counter" | "gauge", help: string): this {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample; label values are escaped here. */
  sample(name: string, labels: Record<string, string> | null, value: number): this {
    const l = labels ? Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(",") : "";
    this.out.push(`${name}${l ? `{${l}}` : ""} ${value}`);
    return this;
  }

  /** A family with one unlabelled sample. */
  single(name: string, type: "counter" | "gauge", help: string, value: number): this {
    return this.family(name, type, help).sample(name, null, value);
  }

  text(): string {
    return this.out.join("\n") + "\n";
  }
}

const PER_HOST: [name: string, help: string, get: (h: HostEntry) => number | undefined][] = [
  ["lava_host_load1", "1-minute load average", (h) => h.report?.load1],
  ["lava_host_load5", "5-minute load average", (h) => h.report?.load5],
  ["lava_host_load15", "15-minute load average", (h) => h.report?.load15],
  ["lava_host_cpu_user_ratio", "user CPU time over the last interval, 0-1 of all CPUs", (h) => ratio(h.report?.cpuUser)],
  ["lava_host_cpu_sys_ratio", "system CPU time over the last interval, 0-1 of all CPUs", (h) => ratio(h.report?.cpuSys)],
  ["lava_host_cpu_idle_ratio", "idle CPU time over the last interval, 0-1 of all CPUs", (h) => ratio(h.report?.cpuIdle)],
  ["lava_host_mem_used_bytes", "memory in use", (h) => h.report?.memUsed],
  ["lava_host_mem_free_bytes", "memory available (MemAvailable)", (h) => h.report?.memFree],
  ["lava_host_swap_used_bytes", "swap in use", (h) => h.report?.swapUsed],
  ["lava_host_swap_free_bytes", "swap free", (h) => h.report?.swapFree],
  ["lava_host_ncpus", "CPUs", (h) => h.report?.ncpus],
  ["lava_host_procs", "processes", (h) => h.report?.procsTotal],
  ["lava_host_jobs_running", "lava jobs running", (h) => h.report?.jobsRunning],
];

/** Reports carry percentages (design §2); Prometheus wants ratios. Rounded so 12.3 % prints 0.123, not 0.12300000000000001. */
function ratio(percent: number | undefined): number | undefined {
  return percent === undefined ? undefined : Math.round(percent * 1e4) / 1e6;
}

function renderBuild(m: MetricsInput, t: MetricsText): void {
  t.family("lava_build_info", "gauge", "always 1; the labels say which lava this master runs").sample("lava_build_info", { version: m.build.version, commit: m.build.commit }, 1);
}

/** The standard process collector's names (client_golang, client_python), for the master process. */
function renderProcess(p: ProcessStats, t: MetricsText): void {
  t.single("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", Math.round(p.startTimeSeconds * 1000) / 1000);
  t.single("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", Math.round(p.cpuSecondsTotal * 1e6) / 1e6);
  t.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.residentMemoryBytes);
  if (p.virtualMemoryBytes !== null) t.single("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p.virtualMemoryBytes);
  if (p.openFds !== null) t.single("process_open_fds", "gauge", "Number of open file descriptors.", p.openFds);
  if (p.maxFds !== null) t.single("process_max_fds", "gauge", "Maximum number of open file descriptors.", p.maxFds);
}

function renderIngest(m: MetricsInput, t: MetricsText): void {
  t.single("lava_ingest_accepted_total", "counter", "load reports accepted", m.ingest.accepted);
  t.family("lava_ingest_dropped_total", "counter", "datagrams dropped, by reason");
  for (const r of DROP_REASONS) t.sample("lava_ingest_dropped_total", { reason: r }, m.ingest.dropped[r]);
  if (m.kernel) {
    t.single("lava_udp_socket_drops_total", "counter", "datagrams the kernel dropped on the master's UDP socket (buffer full)", m.kernel.socketDrops);
    t.single("lava_udp_rcvbuf_errors_total", "counter", "machine-wide UDP RcvbufErrors of the master's host (/proc/net/snmp, since boot)", m.kernel.rcvbufErrors);
  }
  t.single("lava_udp_errors_total", "counter", "UDP socket errors, mostly announces to agents whose port is gone (ICMP unreachable)", m.udpErrors);
  if (m.tcpReports) renderTcpReports(m.tcpReports, t);
  if (m.history) renderHistory(m.history, t);
  t.single("lava_control_sessions", "gauge", "agents with a registered control channel", m.sessions);
  if (m.control) {
    t.family("lava_control_refused_total", "counter", "control-channel messages and registrations refused, by reason (nothing was written for them)");
    for (const [reason, n] of Object.entries(m.control.refused)) t.sample("lava_control_refused_total", { reason }, n);
    t.single("lava_control_resumed_total", "counter", "registrations that resumed a session with a session token, without a write", m.control.resumed);
  }
  t.single("lava_master_uptime_seconds", "gauge", "seconds since this master started", Math.round(m.uptimeMs) / 1000);
}

function renderHistory(h: HistoryCounters, t: MetricsText): void {
  t.single("lava_history_samples_refused_total", "counter", "report and telemetry samples the load history refused: older than their bucket (the master's clock went back)", h.refused);
  t.single("lava_history_hosts_not_kept_total", "counter", "hosts the load history could not keep (over its 100,000 hosts, or no room on the disk)", h.hostsNotKept);
  t.single("lava_history_write_errors_total", "counter", "writes to history.lava that failed (their rows are missing from the file)", h.writeErrors);
  t.single("lava_history_flushes_total", "counter", "flushes of the load history to its file (each writes a slice of the hosts; master.history.flushInterval)", h.flushes);
  t.single("lava_history_writes_total", "counter", "writes (pwrite system calls) to history.lava", h.writes);
}

function renderTcpReports(c: Readonly<TcpReportCounters>, t: MetricsText): void {
  t.single("lava_tcp_report_connections", "gauge", "TCP report connections open", c.open);
  t.family("lava_tcp_report_connections_total", "counter", "TCP report connections by outcome (refused: a bound was reached; closed: idle or a bad length prefix)");
  for (const [outcome, n] of [["accepted", c.accepted], ["refused_per_source", c.refusedPerSource], ["refused_total", c.refusedTotal], ["closed_idle", c.closedIdle], ["closed_bad_frame", c.closedBadFrame]] as const) {
    t.sample("lava_tcp_report_connections_total", { outcome }, n);
  }
  t.single("lava_tcp_reports_accepted_total", "counter", "load reports accepted over TCP (also in lava_ingest_accepted_total)", c.reports);
}

function renderJobs(m: MetricsInput, t: MetricsText): void {
  t.family("lava_jobs", "gauge", "jobs by state");
  for (const [state, n] of Object.entries(m.jobs)) t.sample("lava_jobs", { state }, n);
  t.single("lava_jobs_submitted_total", "counter", "jobs submitted since this master started (counted as applied, on every master)", m.jobCounters.submitted);
  t.family("lava_jobs_finished_total", "counter", "jobs ended since this master started, by end state");
  for (const [state, n] of Object.entries(m.jobCounters.finished)) t.sample("lava_jobs_finished_total", { state }, n);
}

function renderRemote(r: RemoteMetrics, t: MetricsText): void {
  t.family("lava_alerts_active", "gauge", "active (firing) alerts by severity");
  for (const [severity, n] of Object.entries(r.alertsActive)) t.sample("lava_alerts_active", { severity }, n);
  t.single("lava_alerts_dropped_total", "counter", "firing alerts refused because the per-host or total bound was reached", r.alertsDropped);
  if (r.webhook) {
    t.family("lava_alert_webhook_total", "counter", "alert webhook deliveries by outcome (sent, failed after retries or refused, dropped from a full queue, retries)");
    for (const [outcome, n] of Object.entries(r.webhook)) t.sample("lava_alert_webhook_total", { outcome }, n);
  }
  t.single("lava_agent_requests_pending", "gauge", "requests to agents (exec, health, logs, update) waiting for an answer", r.requestsPending);
  t.family("lava_agent_requests_total", "counter", "requests to agents and their answers by outcome (unknown, wrongHost, wrongKind: answers dropped)");
  for (const [outcome, n] of Object.entries(r.requests)) t.sample("lava_agent_requests_total", { outcome }, n);
}

function renderHosts(m: MetricsInput, t: MetricsText): void {
  const hosts = [...m.hosts];
  const states = Object.fromEntries(HOST_STATES.map((s) => [s, 0])) as Record<string, number>;
  const stateOf = new Map<HostEntry, string>();
  for (const h of hosts) {
    const s = shownState(h, m.nowMs, m.policy);
    stateOf.set(h, s);
    states[s]!++;
  }
  t.family("lava_hosts", "gauge", "hosts by state");
  for (const s of HOST_STATES) t.sample("lava_hosts", { state: s }, states[s]!);

  t.family("lava_host_up", "gauge", "1 if the host reports (its state is not unavail), else 0");
  for (const h of hosts) t.sample("lava_host_up", { host: h.hostname }, stateOf.get(h) === "unavail" ? 0 : 1);
  t.family("lava_host_state", "gauge", "1 for the host's current state, 0 for the others (one series per host and state)");
  for (const h of hosts) for (const s of HOST_STATES) t.sample("lava_host_state", { host: h.hostname, state: s }, stateOf.get(h) === s ? 1 : 0);
  for (const [name, help, get] of PER_HOST) {
    t.family(name, "gauge", help);
    for (const h of hosts) {
      const v = get(h);
      if (v !== undefined) t.sample(name, { host: h.hostname }, v);
    }
  }
  t.family("lava_host_report_age_seconds", "gauge", "seconds since the host's last accepted report");
  for (const h of hosts) if (h.report) t.sample("lava_host_report_age_seconds", { host: h.hostname }, Math.round(m.nowMs - h.lastReportMs) / 1000);
  t.family("lava_host_reports_lost_total", "counter", "reports missing by AUTH seq gaps");
  for (const h of hosts) t.sample("lava_host_reports_lost_total", { host: h.hostname }, hostLoss(h).lost);
  t.family("lava_host_reports_received_total", "counter", "reports accepted");
  for (const h of hosts) t.sample("lava_host_reports_received_total", { host: h.hostname }, h.receivedTotal);
}

export function renderMetrics(m: MetricsInput): string {
  const t = new MetricsText();
  renderBuild(m, t);
  renderProcess(m.process, t);
  renderIngest(m, t);
  renderJobs(m, t);
  if (m.remote) renderRemote(m.remote, t);
  renderHosts(m, t);
  return t.text();
}
