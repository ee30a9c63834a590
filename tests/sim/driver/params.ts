/**
 * Everything a seed decides about a driver-level run, drawn up front from
 * its own random stream (printed as the first line of a trace).
 */
import type { DriverConfig } from "../../../src/master/raft/driver.ts";
import type { NetworkProfile } from "../network.ts";
import { between, drawNet, pick } from "../params.ts";

/** The driver's own settings a seed draws (the rest of DriverConfig is the run's: id, rng, hooks). */
type DrawnDriverConfig = Pick<DriverConfig, "tickMs" | "electionTicks" | "heartbeatTicks" | "batchSize" | "maxInflight" | "resyncThreshold" | "keepEntries" | "proposalTimeoutMs">;

export interface DriverSimParams extends DrawnDriverConfig {
  nodes: number;
  /** Per master: its timers run this much fast or slow (1 ± drift). */
  clockDrift: number;
  /** Longest wait for the event loop's next turn (setImmediate: group commit). */
  turnDelayMsMax: number;
  net: NetworkProfile;
  faultMs: number;
  faultEveryMs: number;
  crashes: boolean;
  /** Crashes at a point of a write: before its transaction, inside it, after its commit. */
  crashPoints: boolean;
  /** Machine crashes: commits not yet synced (synchronous=NORMAL) are lost, or some of them. */
  powerLoss: boolean;
  partitions: boolean;
  /** SIGSTOP-like pauses of several election timeouts. */
  pauses: boolean;
  /** A write that takes longer than an election timeout (the process is blocked in it). */
  slowDisks: boolean;
  /** A write fails (disk full): the driver restarts its core from disk and retries after a backoff. */
  diskErrors: boolean;
  transfers: boolean;
  forcedSnapshots: boolean;
  clients: number;
  keys: number;
  /** How long a client waits for one attempt before trying elsewhere (ctl's --timeout). */
  attemptTimeoutMs: number;
  /** How long a client keeps retrying one operation. */
  opTimeoutMs: number;
  /** Log entries a request id is remembered for. */
  dedupWindow: number;
  livenessMs: number;
}

export function drawDriverParams(rng: () => number, nodes: number): DriverSimParams {
  const calm = rng() < 0.1;
  return {
    nodes,
    tickMs: 10,
    clockDrift: pick(rng, [0, 0.01, 0.05]),
    electionTicks: pick(rng, [10, 10, 15, 20]),
    heartbeatTicks: pick(rng, [1, 2, 3]),
    batchSize: pick(rng, [1, 4, 16, 100]),
    maxInflight: pick(rng, [1, 2, 8, 64]),
    resyncThreshold: pick(rng, [8, 40, 1000]),
    keepEntries: pick(rng, [3, 10, 50, 10_000]),
    proposalTimeoutMs: pick(rng, [150, 400, 1000]),
    turnDelayMsMax: pick(rng, [0.2, 1, 4]),
    net: drawNet(rng, calm),
    faultMs: between(rng, 3000, 6000),
    faultEveryMs: pick(rng, [80, 150, 300]),
    crashes: rng() < 0.75,
    crashPoints: rng() < 0.7,
    powerLoss: rng() < 0.4,
    partitions: nodes > 1 && rng() < 0.75,
    pauses: rng() < 0.4,
    slowDisks: rng() < 0.35,
    diskErrors: rng() < 0.25,
    transfers: nodes > 1 && rng() < 0.3,
    forcedSnapshots: nodes > 1 && rng() < 0.2,
    clients: between(rng, 2, 5),
    keys: between(rng, 1, 4),
    attemptTimeoutMs: pick(rng, [100, 300, 800]),
    opTimeoutMs: pick(rng, [600, 1500, 3000]),
    dedupWindow: pick(rng, [5_000, 100_000]),
    livenessMs: 8000,
  };
}
