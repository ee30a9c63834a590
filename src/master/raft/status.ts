/**
 * What /_raft/health, /_raft/sync-status and /_raft/resync_stats answer
 * (paths and field names as in seeds/004, design §6), computed from the
 * core's status and the transport's counters. Pure.
 */
import type { Progress, RaftStatus } from "../../raft/types.ts";
import type { Members } from "../../store/index.ts";
import type { PeerStats, ResyncStats, SnapshotProgress } from "./transport.ts";

export type FollowerHealth = "healthy" | "lagging" | "desynced" | "unknown";

export interface HealthPolicy {
  /** More entries behind than this: desynced (it needs a snapshot). */
  resyncThreshold: number;
  /** More than this behind (one append batch): lagging. */
  batchSize: number;
  /** Not heard from for this many ticks: unknown. */
  silentTicks: number;
}

/** The health rules from the master's raft settings: silent for two election timeouts is unknown. */
export function healthPolicy(raft: { resyncThreshold: number; batchSize: number; electionTicks: number }): HealthPolicy {
  return { resyncThreshold: raft.resyncThreshold, batchSize: raft.batchSize, silentTicks: 2 * raft.electionTicks };
}

/**
 * healthy: in sync (within one batch). lagging: behind but being caught up
 * with entries. desynced: too far behind for entries, or a snapshot is being
 * sent. unknown: the leader has not heard from it lately (down, partitioned,
 * or not contacted yet).
 */
export function followerHealth(p: Progress, leaderLastIndex: number, policy: HealthPolicy): FollowerHealth {
  if (p.lastHeardTicks > policy.silentTicks) return "unknown";
  if (p.state === "snapshot") return "desynced";
  const lag = Math.max(0, leaderLastIndex - p.match);
  if (lag > policy.resyncThreshold) return "desynced";
  if (lag > policy.batchSize) return "lagging";
  return "healthy";
}

const ROLE_NAMES = { leader: "Leader", follower: "Follower", candidate: "Candidate", pre_candidate: "PreCandidate" } as const;

export interface HealthView {
  node_id: number;
  state: string;
  term: number;
  commit_index: number;
  last_applied: number;
  last_index: number;
  leader_id: number;
  leader: string | null;
  voters: number[];
  /** Every member's address, by node id (as this master knows them). */
  members: Record<string, string>;
  /** address → health; followers as the leader sees them (empty on a follower). */
  followers: Record<string, FollowerHealth>;
}

export function healthView(s: RaftStatus, members: Members, policy: HealthPolicy): HealthView {
  const followers: Record<string, FollowerHealth> = {};
  for (const p of s.progress) {
    if (p.id === s.id) continue;
    followers[members.addrs[p.id] ?? `node-${p.id}`] = followerHealth(p, s.lastIndex, policy);
  }
  return {
    node_id: s.id,
    state: ROLE_NAMES[s.role],
    term: s.term,
    commit_index: s.commit,
    last_applied: s.applied,
    last_index: s.lastIndex,
    leader_id: s.leader,
    leader: s.leader ? (members.addrs[s.leader] ?? null) : null,
    voters: [...s.voters],
    members: { ...members.addrs },
    followers,
  };
}

export interface FollowerSync {
  address: string;
  node_id: number;
  health: FollowerHealth;
  last_replicated_index: number;
  lag: number;
  last_latency_ms: number | null;
  consecutive_failures: number;
  replication: Progress["state"];
  /** While a snapshot is being sent to it. */
  snapshot: { bytes_sent: number; bytes_total: number } | null;
}

export function syncStatusView(
  s: RaftStatus,
  members: Members,
  policy: HealthPolicy,
  stats: (id: number) => PeerStats | null,
  snapshot: (id: number) => SnapshotProgress | null,
): { node_id: number; is_leader: boolean; term: number; commit_index: number; last_index: number; followers: FollowerSync[] } {
  const followers: FollowerSync[] = [];
  for (const p of s.progress) {
    if (p.id === s.id) continue;
    const st = stats(p.id);
    const snap = snapshot(p.id);
    followers.push({
      address: members.addrs[p.id] ?? `node-${p.id}`,
      node_id: p.id,
      health: followerHealth(p, s.lastIndex, policy),
      last_replicated_index: p.match,
      lag: Math.max(0, s.lastIndex - p.match),
      last_latency_ms: st?.lastLatencyMs ?? null,
      consecutive_failures: st?.consecutiveFailures ?? 0,
      replication: p.state,
      snapshot: snap ? { bytes_sent: snap.bytesSent, bytes_total: snap.bytesTotal } : null,
    });
  }
  followers.sort((a, b) => a.node_id - b.node_id);
  return { node_id: s.id, is_leader: s.role === "leader", term: s.term, commit_index: s.commit, last_index: s.lastIndex, followers };
}

export function resyncStatsView(s: RaftStatus, r: ResyncStats) {
  return {
    node_id: s.id,
    is_leader: s.role === "leader",
    resync_stats: { snapshots_created: r.snapshotsCreated, send_attempts: r.sendAttempts, send_successes: r.sendSuccesses, send_failures: r.sendFailures },
  };
}
