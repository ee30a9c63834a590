/** /metrics lines of the live-load stream between masters (docs/replication.md "Live load on followers"). Pure. */
import type { SinkCounters } from "./sink.ts";
import type { FollowerSyncStats } from "./stream.ts";

export function renderSyncMetrics(m: { leading: boolean; followers: readonly FollowerSyncStats[]; sink: Readonly<SinkCounters>; ageMs: number | null }): string {
  const out: string[] = [];
  const head = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  if (m.leading) {
    head("lava_sync_batches_sent_total", "counter", "live-load batches sent to each follower (MASTER_SYNC)");
    for (const f of m.followers) out.push(`lava_sync_batches_sent_total{node="${f.id}"} ${f.batchesSent}`);
    head("lava_sync_full_sent_total", "counter", "full tables sent to each follower (after a gap, a failure, a new leader)");
    for (const f of m.followers) out.push(`lava_sync_full_sent_total{node="${f.id}"} ${f.fullSent}`);
    head("lava_sync_follower_failing", "gauge", "consecutive failed live-load requests to each follower (0: in step)");
    for (const f of m.followers) out.push(`lava_sync_follower_failing{node="${f.id}"} ${f.failing}`);
  } else {
    head("lava_sync_age_seconds", "gauge", "seconds since the last live-load batch from the leader (absent: none from the current leader)");
    if (m.ageMs !== null) out.push(`lava_sync_age_seconds ${(m.ageMs / 1000).toFixed(3)}`);
    head("lava_sync_received_total", "counter", "live-load batches and records applied, and what was refused or skipped");
    for (const [k, v] of Object.entries(m.sink)) out.push(`lava_sync_received_total{what="${k}"} ${v}`);
  }
  return out.join("\n") + "\n";
}
