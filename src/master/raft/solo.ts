/**
 * The state machine behind a one-voter Raft node, without a master around
 * it: what a single master runs, for tests and benchmarks that exercise the
 * log (group commit, replay, full disks) on a real database.
 */
import { SqliteRaftStorage, type Applied, type Command, type OpenedStore } from "../../store/index.ts";
import { seededRng } from "../../rng/index.ts";
import { RaftDriver } from "./driver.ts";
import { sqliteStateMachine } from "./state-machine.ts";

export interface SoloLog {
  driver: RaftDriver<Applied>;
  storage: SqliteRaftStorage;
  propose(cmd: Command): Promise<Applied>;
  stop(): void;
}

export function openSoloLog(store: OpenedStore, opts: { onApplied?: (a: Applied) => void; proposalTimeoutMs?: number } = {}): SoloLog {
  const storage = new SqliteRaftStorage(store);
  storage.bootstrap({ voters: [1], addrs: { 1: "local" } });
  const driver = new RaftDriver(
    { id: 1, tickMs: 50, electionTicks: 8, heartbeatTicks: 2, batchSize: 100, maxInflight: 64, resyncThreshold: 1000, keepEntries: 10_000, proposalTimeoutMs: opts.proposalTimeoutMs ?? 10_000, rng: seededRng(1), campaignAtStart: true },
    storage,
    sqliteStateMachine(store),
    { send: () => {}, onApplied: opts.onApplied ?? (() => {}), onMembers: () => {}, onSnapshotInstalled: () => {}, onSoftState: () => {} },
  );
  driver.start();
  return { driver, storage, propose: (cmd) => driver.propose(JSON.stringify(cmd)), stop: () => driver.stop() };
}
