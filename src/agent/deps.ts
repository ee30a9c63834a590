/**
 * Everything createAgent takes from outside besides its config, so tests
 * can steer it: clocks, randomness, samplers, bounds and fake roots. All
 * optional; the defaults are the real thing.
 */
import type { EnvSource, JobRunnerOptions } from "./jobs/index.ts";
import type { GpuRoots } from "./jobs/gpus.ts";
import type { ExecutorOptions } from "./exec/index.ts";
import type { Statfs } from "./health/index.ts";
import type { LogStreamerOptions } from "./logs/index.ts";
import type { HardwareInfo, JobCounts } from "./procfs/index.ts";
import type { Sampler } from "./reporter.ts";
import type { Rng } from "./backoff.ts";
import type { TelemetrySources } from "./telemetry/index.ts";

/** Everything createAgent takes from outside, so tests can steer it; all optional. */
export interface AgentDeps {
  rng?: Rng;
  /** Monotonic milliseconds. */
  now?: () => number;
  sampler?: Sampler;
  hardware?: () => HardwareInfo;
  /** Jobs running and pending on this host, for the reports (default: the job runner's counts). */
  jobs?: () => JobCounts;
  /** Options of the job runner (bootId, clocks, grace and outbox bounds); its events always go to the master. */
  jobRunner?: Omit<JobRunnerOptions, "onEvent">;
  /** Where GPUs are detected (tests: a fake /proc, /sys, /dev). */
  gpuRoots?: GpuRoots;
  /** Host name → IP literal for UDP. */
  resolve?: (host: string) => Promise<string>;
  /** A connection with no `registered` after this long is given up. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** WebSocket ping period; 2 of them without any frame from the master end the session. Default 15 s. */
  keepaliveMs?: number;
  /** A session registered this long resets the backoff. Default 60 s. */
  stableSessionMs?: number;
  /**
   * An announce that says the master forgot this host is ignored during the
   * first this-many ms of a session: an announce built just before our
   * registration may still be on its way. Default 5 s (above the master's
   * 4 s announce period).
   */
  forgottenGraceMs?: number;
  /** The config file the agent read (named in refusals: "add it to agent.exec.allow in <file>"); null or absent if none. */
  configFile?: string | null;
  /** Milliseconds since the epoch, for the `at` of health reports, alerts and log lines. */
  wallClock?: () => number;
  /** Where PATH, HOME, LANG and USER of `execute`, health-check commands and journalctl come from (default process.env). */
  env?: EnvSource;
  /** Bounds of `execute` (running at once, kill grace, kept results, output flush). */
  exec?: Pick<ExecutorOptions, "runningMax" | "killGraceMs" | "resultsMax" | "flushMs">;
  /** Where the health checks and the disk alert metric read filesystems (default: `mounts` under procRoot, fs.statfsSync). */
  health?: { mountsPath?: string; statfs?: Statfs };
  /** Log streaming: poll period, sessions, sink rate. */
  logs?: Pick<LogStreamerOptions, "pollMs" | "sessionsMax" | "sink">;
  /**
   * Self-update: the executable to replace (default process.execPath),
   * whether it is a compiled lava binary (default: judged from Bun.main), the
   * argv to restart with (default process.argv), the version check's timeout.
   */
  update?: { execPath?: string; compiled?: boolean; argv?: readonly string[]; versionCheckTimeoutMs?: number };
  /** Telemetry sources beyond procRoot (sysfs, nvidia-smi, statfs) for tests. */
  telemetry?: Partial<Omit<TelemetrySources, "procRoot" | "containerSockets">>;
}
