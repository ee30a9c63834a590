/**
 * Raft figures for /metrics (design §10: raft term/commit/lag), in the
 * Prometheus text format. Pure.
 */
import type { RaftStatus } from "../../raft/types.ts";
import type { Members } from "../../store/index.ts";
import { followerHealth, type HealthPolicy } from "./status.ts";

const HEALTHS = ["healthy", "lagging", "desynced", "unknown"] as const;

export function renderRaftMetrics(s: RaftStatus, members: Members, policy: HealthPolicy): string {
  const out: string[] = [];
  const gauge = (name: string, help: string, value: number) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
  gauge("lava_raft_node_id", "this master's Raft node id", s.id);
  gauge("lava_raft_term", "current Raft term", s.term);
  gauge("lava_raft_is_leader", "1 if this master is the leader", s.role === "leader" ? 1 : 0);
  gauge("lava_raft_leader_id", "node id of the leader this master knows (0: none)", s.leader);
  gauge("lava_raft_commit_index", "highest log index known committed", s.commit);
  gauge("lava_raft_applied_index", "highest log index applied to the state", s.applied);
  gauge("lava_raft_last_index", "highest log index held", s.lastIndex);
  gauge("lava_raft_voters", "voting members", s.voters.length);
  const followers = s.progress.filter((p) => p.id !== s.id);
  if (s.role === "leader" && followers.length > 0) {
    out.push("# HELP lava_raft_follower_lag_entries entries the leader holds that a follower does not have yet", "# TYPE lava_raft_follower_lag_entries gauge");
    for (const p of followers) out.push(`lava_raft_follower_lag_entries{node="${p.id}",address="${members.addrs[p.id] ?? ""}"} ${Math.max(0, s.lastIndex - p.match)}`);
    const byHealth = new Map<string, number>(HEALTHS.map((h) => [h, 0]));
    for (const p of followers) {
      const h = followerHealth(p, s.lastIndex, policy);
      byHealth.set(h, (byHealth.get(h) ?? 0) + 1);
    }
    out.push("# HELP lava_raft_followers followers by health, as the leader sees them", "# TYPE lava_raft_followers gauge");
    for (const [h, n] of byHealth) out.push(`lava_raft_followers{health="${h}"} ${n}`);
  }
  return out.join("\n") + "\n";
}
