/**
 * `lava ctl cluster`: the masters as the leader and each master itself see
 * them, gathered from /_raft/health and /_raft/sync-status. Pure: answers
 * in, one view (for --json) and a table (for people) out.
 */
import { formatTable, type Column } from "./table.ts";

type Row = Record<string, unknown>;
const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);
const str = (x: unknown): string | null => (typeof x === "string" ? x : null);

export interface MemberView {
  id: number;
  address: string;
  /** From its own /_raft/health; "unreachable" if it did not answer. */
  role: string;
  term: number | null;
  commit: number | null;
  applied: number | null;
  /** As the leader sees it (null for the leader itself, or without a leader). */
  health: string | null;
  matchIndex: number | null;
  lag: number | null;
  lastLatencyMs: number | null;
  consecutiveFailures: number | null;
}

export interface ClusterView {
  leader: { id: number; address: string | null } | null;
  term: number | null;
  commit: number | null;
  members: MemberView[];
}

const ROLE = (state: string | null) => (state ? state.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase() : "unreachable");

/**
 * `health`: each member's own /_raft/health by address (null: no answer);
 * `sync`: the leader's /_raft/sync-status (null without a leader).
 */
export function clusterView(addrs: ReadonlyMap<number, string>, health: ReadonlyMap<string, Row | null>, sync: Row | null): ClusterView {
  const leaderRow = [...health.values()].find((h) => h?.state === "Leader") ?? null;
  const followers = new Map<number, Row>();
  for (const f of Array.isArray(sync?.followers) ? (sync!.followers as Row[]) : []) {
    const id = num(f.node_id);
    if (id !== null) followers.set(id, f);
  }
  const members: MemberView[] = [...addrs.entries()]
    .sort(([a], [b]) => a - b)
    .map(([id, address]) => {
      const h = health.get(address) ?? null;
      const f = followers.get(id);
      return {
        id,
        address,
        role: ROLE(str(h?.state)),
        term: num(h?.term),
        commit: num(h?.commit_index),
        applied: num(h?.last_applied),
        health: f ? str(f.health) : null,
        matchIndex: f ? num(f.last_replicated_index) : null,
        lag: f ? num(f.lag) : null,
        lastLatencyMs: f ? num(f.last_latency_ms) : null,
        consecutiveFailures: f ? num(f.consecutive_failures) : null,
      };
    });
  const leaderId = leaderRow ? num(leaderRow.node_id) : null;
  return {
    leader: leaderId !== null ? { id: leaderId, address: addrs.get(leaderId) ?? null } : null,
    term: leaderRow ? num(leaderRow.term) : null,
    commit: leaderRow ? num(leaderRow.commit_index) : null,
    members,
  };
}

export function clusterTable(v: ClusterView): string {
  const R = "right" as const;
  const columns: Column[] = [
    { title: "ID", align: R },
    { title: "ADDRESS" },
    { title: "ROLE" },
    { title: "TERM", align: R },
    { title: "COMMIT", align: R },
    { title: "APPLIED", align: R },
    { title: "LAG", align: R },
    { title: "HEALTH" },
    { title: "RTT", align: R },
  ];
  const n = (x: number | null) => (x === null ? "-" : String(x));
  const rows = v.members.map((m) => [
    String(m.id),
    m.address,
    m.role,
    n(m.term),
    n(m.commit),
    n(m.applied),
    n(m.lag),
    m.health ?? "-",
    m.lastLatencyMs === null ? "-" : `${m.lastLatencyMs.toFixed(1)}ms`,
  ]);
  const head = v.leader ? `leader: node ${v.leader.id} (${v.leader.address ?? "?"}), term ${v.term}, commit ${v.commit}` : "leader: none (an election is under way, or no majority of masters is up)";
  return `${head}\n${formatTable(columns, rows)}`;
}
