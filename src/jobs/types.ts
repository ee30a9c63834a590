/**
 * Jobs (design §5): states, and the shapes the pure scheduler works on.
 * Nothing here does I/O or reads a clock.
 */
import type { HostState } from "../control/host-states.ts";

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
  /** Where the job may run (`--hosts`, `--exclude`, `--constraint`, `--exclusive`); absent = any host of its queue. */
  filter?: HostFilter | undefined;
}

/**
 * Per-job placement rules. Jobs with one take a slower path than the
 * others (a pass over the queue's hosts instead of the pool tree); they are
 * expected to be the few.
 */
export interface HostFilter {
  /** Host name patterns (`*`, `?`) the job may run on; absent or empty = any. */
  hosts?: readonly string[] | undefined;
  /** Host name patterns it must not run on. */
  exclude?: readonly string[] | undefined;
  /** Labels (`agent.labels`) a host must all have. */
  constraint?: readonly string[] | undefined;
  /** The whole host: only an idle host, and nothing else runs there beside it. */
  exclusive?: boolean | undefined;
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
  /** `agent.labels`. */
  labels?: readonly string[] | undefined;
  /** Why the host takes no jobs whatever its state (a word for reasons: "master host", "reconciling"); absent = it does. */
  closed?: string | undefined;
  /** Jobs running (or dispatched) on it now. */
  jobs?: number | undefined;
  /** An exclusive job runs on it: nothing else may. */
  exclusive?: boolean | undefined;
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
