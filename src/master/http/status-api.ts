/**
 * What a master says about itself (docs/api.md): GET /healthz (no token),
 * /metrics (Prometheus, no token), /api/v1/load and /api/v1/status (role
 * `read`). Answered from memory; nothing is written because of a request.
 */
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { jobCounts } from "../../store/index.ts";
import { COMMIT, VERSION } from "../../version.ts";
import type { AdmissionBucket } from "../admission.ts";
import type { ControlSessions } from "../control/sessions.ts";
import { countStates, type StatusPolicy } from "../hosts/status.ts";
import type { HistoryFile } from "../history/file.ts";
import type { HostTable } from "../hosts/table.ts";
import type { IngestCounters } from "../ingest.ts";
import type { JobManager } from "../jobs/manager.ts";
import type { UdpDrops } from "../kernel.ts";
import { processStats } from "../process-stats.ts";
import { renderRaftMetrics } from "../raft/metrics.ts";
import type { HealthPolicy } from "../raft/status.ts";
import type { Remote } from "../requests/remote.ts";
import type { MasterState } from "../state.ts";
import { renderSyncMetrics } from "../sync/metrics.ts";
import type { LiveSync } from "../sync/index.ts";
import type { TcpReportCounters } from "../tcp-reports.ts";
import type { TelemetryBook } from "../telemetry.ts";
import type { TokenGate } from "../tokens.ts";
import { loadView } from "../views.ts";
import { jsonFor } from "./compress.ts";
import { json } from "./errors.ts";
import { pageOf, parseLoadQuery, pickFields } from "./load-query.ts";
import { renderMetrics } from "./metrics.ts";
import type { Router } from "./router.ts";
import { renderTelemetryMetrics } from "./telemetry-metrics.ts";

/** This master as the status shows it. */
export interface SelfView {
  nodeId: number;
  /** The address agents and ctl use: known once the HTTP port is bound. */
  advertise(): string;
  udpPort: number;
  startedMs: number;
  insecure: boolean;
}

/** Counters kept by the listeners and timers of server.ts. */
export interface TransportCounters {
  /** UDP socket errors (mostly ICMP unreachable for announces to agents that went away). */
  udpErrors(): number;
  /** Announces whose send threw (counted per host too, HostEntry.announceErrors). */
  announceErrors(): number;
  /** The TCP report listener's connection counters, or null when it is off. */
  tcpReports: Readonly<TcpReportCounters> | null;
  kernelDrops(): UdpDrops | null;
  /** The kernel's counters when this master started (the machine-wide ones are shown as deltas from here). */
  kernelAtStart: UdpDrops | null;
  /** Refused requests that got no audit row of their own (audit/refusals.ts). */
  refusalsSuppressed(): number;
}

export interface StatusDeps {
  self: SelfView;
  gate: Pick<TokenGate, "check">;
  hosts: HostTable;
  policy: StatusPolicy;
  raftHealth: HealthPolicy;
  ingest: Readonly<IngestCounters>;
  counters: TransportCounters;
  sessions: Pick<ControlSessions, "count" | "refused" | "resumed">;
  admission: Pick<AdmissionBucket, "peek">;
  /** Admission of upgrades with a session token (resumes). */
  resumeAdmission: Pick<AdmissionBucket, "peek">;
  db: BunSQLiteDatabase;
  jobs: Pick<JobManager, "counters" | "leadingSinceMs">;
  remote: Pick<Remote, "metrics">;
  state: Pick<MasterState, "replication" | "isLeader" | "clustered">;
  sync: Pick<LiveSync, "stream" | "sink">;
  telemetry: TelemetryBook;
  /** The load history (null: master.history.enabled is false, or its file could not be opened). */
  history: Pick<HistoryFile, "counters" | "writes"> | null;
  nowMs: () => number;
}

/**
 * Live load between masters, for `status`: on the leader, how each follower
 * takes it; on a follower, how old its copy is (null alone, or before the
 * first batch from the current leader).
 */
function syncView(deps: StatusDeps, now: number) {
  if (!deps.state.clustered) return null;
  if (deps.state.isLeader) return { role: "leader", followers: deps.sync.stream.stats().map((f) => ({ ...f, lastOkAtMs: undefined, lastOkAt: f.lastOkAtMs ? new Date(f.lastOkAtMs).toISOString() : null })) };
  const st = deps.state.replication.driver.status();
  const f = deps.sync.sink.freshness(st.leader, st.term, now);
  return { role: "follower", leader: st.leader || null, ageMs: f?.ageMs ?? null, ...deps.sync.sink.counters };
}

export function statusRoutes(r: Router, deps: StatusDeps): void {
  // wsRetryAfterMs: what a refused /ws upgrade's Retry-After says now (agents cannot read that header).
  // wsResumeRetryAfterMs: the same for upgrades with a session token (their own bucket).
  r.on("GET", "/healthz", () => json({ ok: true, version: VERSION, wsRetryAfterMs: deps.admission.peek(), wsResumeRetryAfterMs: deps.resumeAdmission.peek() }));

  r.on("GET", "/metrics", () => {
    const c = deps.counters;
    const body = renderMetrics({
      nowMs: deps.nowMs(),
      policy: deps.policy,
      hosts: deps.hosts.values(),
      ingest: deps.ingest,
      sessions: deps.sessions.count,
      kernel: c.kernelDrops(),
      uptimeMs: deps.nowMs() - deps.self.startedMs,
      jobs: jobCounts(deps.db),
      jobCounters: deps.jobs.counters,
      udpErrors: c.udpErrors(),
      build: { version: VERSION, commit: COMMIT },
      process: processStats(),
      remote: deps.remote.metrics(),
      tcpReports: c.tcpReports,
      control: { refused: deps.sessions.refused, resumed: deps.sessions.resumed },
      history: deps.history ? { ...deps.history.counters, writes: deps.history.writes } : null,
    });
    const repl = deps.state.replication;
    const raft = renderRaftMetrics(repl.driver.status(), repl.members, deps.raftHealth);
    const announce = `# HELP lava_announce_send_errors_total Announces whose send failed (an agent's report port closed); the round goes on.\n# TYPE lava_announce_send_errors_total counter\nlava_announce_send_errors_total ${c.announceErrors()}\n`;
    const audit = `# HELP lava_audit_refusals_suppressed_total Refused requests that got no audit row of their own (refusal budgets exceeded).\n# TYPE lava_audit_refusals_suppressed_total counter\nlava_audit_refusals_suppressed_total ${c.refusalsSuppressed()}\n`;
    const st = repl.driver.status();
    const sync = deps.state.clustered ? renderSyncMetrics({ leading: deps.state.isLeader, followers: deps.sync.stream.stats(), sink: deps.sync.sink.counters, ageMs: deps.sync.sink.freshness(st.leader, st.term, deps.nowMs())?.ageMs ?? null }) : "";
    const telemetry = renderTelemetryMetrics(deps.hosts.values(), deps.telemetry, deps.nowMs());
    return new Response(body + raft + announce + audit + sync + telemetry, { headers: { "content-type": "text/plain; version=0.0.4" } });
  });

  r.on("GET", "/api/v1/load", (req, _p, url) => {
    deps.gate.check(req, url, "read");
    const now = deps.nowMs();
    const q = parseLoadQuery(url.searchParams);
    const hosts = deps.hosts.list();
    const rows = pageOf(hosts, q).map((h) => loadView(h, now, deps.policy));
    const res = jsonFor(req, pickFields(rows, q));
    res.headers.set("x-total-count", String(hosts.length));
    return res;
  });

  r.on("GET", "/api/v1/status", (req, _p, url) => {
    deps.gate.check(req, url, "read");
    const now = deps.nowMs();
    const k = deps.counters.kernelDrops();
    const k0 = deps.counters.kernelAtStart;
    const tcp = deps.counters.tcpReports;
    const leaderSince = deps.jobs.leadingSinceMs();
    return json({
      master: {
        version: VERSION,
        commit: COMMIT,
        nodeId: deps.self.nodeId,
        uptimeMs: now - deps.self.startedMs,
        insecure: deps.self.insecure,
        advertise: deps.self.advertise(),
        udpPort: deps.self.udpPort,
        reportIntervalMs: deps.policy.reportIntervalMs,
        leaderForMs: leaderSince === null ? null : now - leaderSince,
      },
      ingest: {
        accepted: deps.ingest.accepted,
        dropped: { ...deps.ingest.dropped },
        kernel: k ? { socketDrops: k.socketDrops, rcvbufErrors: k.rcvbufErrors, inErrors: k.inErrors } : null,
        tcp: tcp ? { ...tcp } : null,
        // rcvbufErrors and inErrors count for the whole machine since boot: these are the part since this master started.
        kernelSinceStart: k && k0 ? { rcvbufErrors: Math.max(0, k.rcvbufErrors - k0.rcvbufErrors), inErrors: Math.max(0, k.inErrors - k0.inErrors) } : null,
      },
      hosts: countStates(deps.hosts.values(), now, deps.policy),
      jobs: jobCounts(deps.db),
      sessions: deps.sessions.count,
      sync: syncView(deps, now),
      control: { refused: deps.sessions.refused, resumed: deps.sessions.resumed },
    });
  });
}
