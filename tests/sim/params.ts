/**
 * Everything a seed decides about a run, drawn up front from its own
 * random stream: Raft settings, network weather, which faults happen, the
 * workload. Printing these is the first line of a replay.
 */
import type { NetworkProfile } from "./network.ts";

export interface SimParams {
  nodes: number;
  tickMs: number;
  /** Per node: its clock runs this much fast or slow (1 ± drift). */
  clockDrift: number;
  electionTick: number;
  heartbeatTick: number;
  maxEntriesPerMsg: number;
  maxInflightMsgs: number;
  resyncThreshold: number;
  maxCommittedPerReady: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** A node snapshots its state every this many applied entries (0: never). */
  snapshotEvery: number;
  /** Entries kept behind a snapshot when compacting. */
  compactKeep: number;
  /** Delay between a node having a Ready and handling it (group commit), max. */
  readyDelayMsMax: number;
  net: NetworkProfile;
  /** Length of the faulty part of the run. */
  faultMs: number;
  /** Mean time between fault actions. */
  faultEveryMs: number;
  crashes: boolean;
  tornCrashes: boolean;
  partitions: boolean;
  pauses: boolean;
  membership: boolean;
  transfers: boolean;
  forcedSnapshots: boolean;
  clients: number;
  keys: number;
  opTimeoutMs: number;
  /** After faults are healed, the cluster must elect a leader and commit a write within this. */
  livenessMs: number;
  /** RaftConfig.commitBroadcast (lava's masters run with false). Drawn last, so earlier draws are unchanged. */
  commitBroadcast: boolean;
}

/** Picks one of `xs`. */
export function pick<T>(rng: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)]!;
}

export function between(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** Network weather: calm, or drawn loss, duplication, delay and spikes. */
export function drawNet(rng: () => number, calm: boolean): NetworkProfile {
  return calm
    ? { loss: 0, duplicate: 0, delayMsMin: 1, delayMsMax: 3, spike: 0, spikeMsMax: 0 }
    : {
        loss: pick(rng, [0, 0.01, 0.05, 0.15]),
        duplicate: pick(rng, [0, 0.01, 0.05]),
        delayMsMin: 0.5,
        delayMsMax: pick(rng, [2, 5, 15]),
        spike: pick(rng, [0, 0.01, 0.03]),
        spikeMsMax: pick(rng, [50, 150]),
      };
}

export function drawParams(rng: () => number, nodes: number): SimParams {
  const calm = rng() < 0.1;
  return {
    nodes,
    tickMs: 10,
    clockDrift: pick(rng, [0, 0.01, 0.05]),
    electionTick: pick(rng, [10, 10, 15, 20]),
    heartbeatTick: pick(rng, [1, 2, 3]),
    maxEntriesPerMsg: pick(rng, [1, 4, 16, 100]),
    maxInflightMsgs: pick(rng, [1, 2, 8, 64]),
    resyncThreshold: pick(rng, [8, 40, 1000]),
    maxCommittedPerReady: pick(rng, [3, 1000]),
    preVote: rng() < 0.8,
    checkQuorum: rng() < 0.8,
    snapshotEvery: pick(rng, [0, 5, 25, 100]),
    compactKeep: pick(rng, [0, 3, 20]),
    readyDelayMsMax: pick(rng, [0.5, 2, 6]),
    net: drawNet(rng, calm),
    faultMs: between(rng, 3000, 6000),
    faultEveryMs: pick(rng, [80, 150, 300]),
    crashes: rng() < 0.75,
    tornCrashes: rng() < 0.5,
    partitions: rng() < 0.75,
    pauses: rng() < 0.3,
    membership: rng() < 0.3,
    transfers: rng() < 0.35,
    forcedSnapshots: rng() < 0.15,
    clients: between(rng, 2, 5),
    keys: between(rng, 1, 4),
    opTimeoutMs: pick(rng, [300, 800]),
    livenessMs: 6000,
    commitBroadcast: rng() < 0.5,
  };
}
