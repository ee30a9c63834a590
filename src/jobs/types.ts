/**
 * Jobs (design §5): states, and the shapes the pure scheduler works on.
 * Nothing here does I/O or reads a clock.
 */
import type { HostState } from "../master/hosts/status.ts";

export const JOB_STATES = ["PEND", "RUN", "DONE", "EXIT", "KILLED", "LOST"] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_STATES: ReadonlySet<JobState> = new Set(["DONE", "EXIT", "KILLED", "LOST"]);

/** What a job asks for. Default request: 1 cpu, no memory or gpu reservation. */
export interface Resources {
  cpus: number;
  memBytes: number;
  gpus: number;
}

/** A pending job as the scheduler sees it. */
export interface SchedJob extends Resources {
  id: number;
  queue: string;
  priority: number;
  /** Not before this time (retry backoff); 0 = now. */
  notBeforeMs: number;
}

/** A host as the scheduler sees it: registered hardware, live state and load, what running jobs hold. */
export interface SchedHost {
  hostId: number;
  hostname: string;
  state: HostState;
  /** Registered hardware. */
  ncpus: number;
  memBytes: number;
  gpus: number;
  /** Last reported 1-minute load; null before the first report. */
  load1: number | null;
  /** Held by jobs running (or dispatched) on this host. */
  used: Resources;
}

export interface QueueSpec {
  name: string;
  /** Host name patterns (`*` and `?` globs); empty = every host. */
  hosts: readonly string[];
  /** Most jobs of this queue running at once; undefined = no limit. */
  maxRunning?: number | undefined;
  /** Queues with higher priority are served first. */
  priority: number;
  /** Jobs of this queue running now. */
  running: number;
}

export interface Placement {
  jobId: number;
  hostId: number;
}

export interface ScheduleResult {
  placements: Placement[];
  /** Why each pending job that was not placed waits, in words for `lava ctl job ID`. */
  waiting: Map<number, string>;
}
