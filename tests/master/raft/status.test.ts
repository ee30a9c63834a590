import { describe, expect, test } from "bun:test";
import type { Progress, RaftStatus } from "../../../src/raft/types.ts";
import { renderRaftMetrics } from "../../../src/master/raft/metrics.ts";
import { followerHealth, healthPolicy, healthView, resyncStatsView, syncStatusView } from "../../../src/master/raft/status.ts";

const policy = healthPolicy({ resyncThreshold: 1000, batchSize: 100, electionTicks: 8 });
const prog = (id: number, over: Partial<Progress> = {}): Progress => ({ id, match: 500, next: 501, state: "replicate", lastHeardTicks: 1, pendingSnapshot: 0, ...over });
const members = { voters: [1, 2, 3], addrs: { 1: "a:1", 2: "b:1", 3: "c:1" } };
const leader: RaftStatus = { id: 1, term: 4, vote: 1, commit: 500, applied: 499, lastIndex: 520, role: "leader", leader: 1, voters: [1, 2, 3], progress: [prog(1, { match: 520 }), prog(2, { match: 520 }), prog(3, { match: 300 })], leadTransferee: 0 };

describe("follower health (the seed's four states)", () => {
  test("healthy within one batch, lagging beyond it, desynced past the resync threshold or while a snapshot goes, unknown when silent", () => {
    expect(followerHealth(prog(2, { match: 450 }), 520, policy)).toBe("healthy");
    expect(followerHealth(prog(2, { match: 400 }), 520, policy)).toBe("lagging");
    expect(followerHealth(prog(2, { match: 10 }), 2000, policy)).toBe("desynced");
    expect(followerHealth(prog(2, { state: "snapshot" }), 520, policy)).toBe("desynced");
    expect(followerHealth(prog(2, { lastHeardTicks: 17 }), 520, policy)).toBe("unknown");
    expect(followerHealth(prog(2, { lastHeardTicks: 16 }), 520, policy)).toBe("healthy");
  });
});

describe("/_raft views", () => {
  test("health: the seed's fields, followers by address, only on the leader", () => {
    expect(healthView(leader, members, policy)).toEqual({
      node_id: 1,
      state: "Leader",
      term: 4,
      commit_index: 500,
      last_applied: 499,
      last_index: 520,
      leader_id: 1,
      leader: "a:1",
      voters: [1, 2, 3],
      members: { 1: "a:1", 2: "b:1", 3: "c:1" },
      followers: { "b:1": "healthy", "c:1": "lagging" },
    });
    const follower = healthView({ ...leader, id: 2, role: "follower", progress: [] }, members, policy);
    expect(follower.state).toBe("Follower");
    expect(follower.followers).toEqual({});
  });

  test("sync-status: per follower replicated index, lag, latency and failures from the transport", () => {
    const v = syncStatusView(leader, members, policy, (id) => (id === 3 ? { id, lastLatencyMs: 1.5, consecutiveFailures: 2, lastOkAtMs: 1, messagesSent: 9, messagesDropped: 0 } : null), () => null);
    expect(v.is_leader).toBe(true);
    expect(v.followers).toEqual([
      { address: "b:1", node_id: 2, health: "healthy", last_replicated_index: 520, lag: 0, last_latency_ms: null, consecutive_failures: 0, replication: "replicate", snapshot: null },
      { address: "c:1", node_id: 3, health: "lagging", last_replicated_index: 300, lag: 220, last_latency_ms: 1.5, consecutive_failures: 2, replication: "replicate", snapshot: null },
    ]);
    expect(resyncStatsView(leader, { snapshotsCreated: 2, sendAttempts: 3, sendSuccesses: 2, sendFailures: 1 })).toEqual({
      node_id: 1,
      is_leader: true,
      resync_stats: { snapshots_created: 2, send_attempts: 3, send_successes: 2, send_failures: 1 },
    });
  });

  test("metrics: term, commit, applied, leadership, and per-follower lag on the leader", () => {
    const text = renderRaftMetrics(leader, members, policy);
    expect(text).toContain("lava_raft_term 4\n");
    expect(text).toContain("lava_raft_is_leader 1\n");
    expect(text).toContain("lava_raft_commit_index 500\n");
    expect(text).toContain("lava_raft_applied_index 499\n");
    expect(text).toContain('lava_raft_follower_lag_entries{node="3",address="c:1"} 220\n');
    expect(text).toContain('lava_raft_followers{health="lagging"} 1\n');
    expect(renderRaftMetrics({ ...leader, role: "follower", progress: [] }, members, policy)).not.toContain("lava_raft_follower_lag_entries");
  });
});
