/**
 * Control-channel messages (design §4), one valibot schema each. Both ends
 * parse every incoming message with `parseMessage`; types come from the
 * schemas. Bounds on every string and array keep a hostile peer from making
 * either side allocate without limit.
 */
import * as v from "valibot";
import { parserOf, type Variant } from "./variant.ts";

/** Largest control message either side accepts, in bytes of JSON text. */
export const MAX_MESSAGE_BYTES = 1 << 20;

const hostname = v.pipe(v.string(), v.minLength(1), v.maxLength(255), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "hostname: letters, digits, '.', '_' and '-' only"));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** A host label (`agent.labels`, `submit --constraint`). */
export const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
export const LABELS_MAX = 64;

export const HardwareSchema = v.object({
  ncpus: v.pipe(count, v.minValue(1), v.maxValue(1 << 16)),
  memBytes: v.pipe(count, v.maxValue(2 ** 53)),
  gpus: v.optional(v.pipe(count, v.maxValue(1024)), 0),
  os: v.optional(v.pipe(v.string(), v.maxLength(200))),
  /** `agent.labels`: what `submit --constraint` matches. */
  labels: v.optional(v.pipe(v.array(v.pipe(v.string(), v.regex(LABEL_RE, "labels: letters, digits, '.', '_', ':', '-', at most 64"))), v.maxLength(LABELS_MAX))),
  /** A lava master runs on this host too. */
  onMaster: v.optional(v.boolean()),
  /** false: the host takes no jobs (a master's host without agent.jobs.onMaster). Absent: it does. */
  takesJobs: v.optional(v.boolean()),
});

// ---- agent → master
/** A base64 text of at most `bytes` bytes (bounds what a peer can make us decode). */
const b64 = (bytes: number) => v.pipe(v.string(), v.maxLength(Math.ceil(bytes / 3) * 4), v.base64());

/**
 * Proof that the agent holds the private half of `hostKey` (docs/api.md,
 * "Host identity"): an Ed25519 signature over registerProofText(hostname,
 * at, nonce, sha256(bearer token)).
 */
export const RegisterProofSchema = v.object({
  /** ms since the epoch on the agent; the master accepts ±hostKeyWindow. */
  at: v.pipe(count, v.maxValue(2 ** 53)),
  /** 16 random bytes, base64: never accepted twice within the window. */
  nonce: v.pipe(b64(32), v.minLength(16)),
  /** 64-byte Ed25519 signature, base64. */
  sig: b64(64),
});

export const RegisterSchema = v.object({
  type: v.literal("register"),
  hostname,
  hardware: HardwareSchema,
  reportPort: v.pipe(count, v.minValue(1), v.maxValue(65535)),
  version: v.pipe(v.string(), v.maxLength(100)),
  /** The host's Ed25519 public key, raw 32 bytes, base64 (trust on first use). */
  hostKey: v.optional(v.pipe(b64(32), v.length(44))),
  proof: v.optional(RegisterProofSchema),
});
export const PongSchema = v.object({ type: v.literal("pong"), ts: v.optional(v.number()) });

/** Bounds for jobs on the wire (design §5). */
export const JOB_LIMITS = {
  argvItems: 4096,
  argBytes: 128 * 1024,
  envItems: 1024,
  /** Default bound on captured stdout and on stderr, each. */
  outputBytesDefault: 1 << 20,
  outputBytesMax: 16 << 20,
} as const;

const jobId = v.pipe(count, v.minValue(1), v.maxValue(2 ** 53));
/** Most bytes of each stream one `peek_job` answer carries. */
export const PEEK_BYTES_MAX = 256 * 1024;
/** Signals `lava ctl cancel --signal` may send. */
export const JOB_SIGNALS = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTERM", "SIGKILL", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGALRM", "SIGWINCH"] as const;
const msCount = v.pipe(count, v.maxValue(2 ** 53));
const attempt = v.pipe(count, v.minValue(1), v.maxValue(1000));
export const JobEndStateSchema = v.picklist(["DONE", "EXIT", "KILLED"]);
const outText = v.pipe(v.string(), v.maxLength(JOB_LIMITS.outputBytesMax * 2));

/**
 * A job's progress on an agent. `eventId` is unique per agent (the agent
 * keeps unacknowledged events and sends them again after a reconnect); the
 * master records each (jobId, attempt) end once and acks with `ack`.
 */
export const JobEventSchema = v.object({
  type: v.literal("job_event"),
  eventId: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
  jobId,
  attempt,
  event: v.picklist(["started", "finished"]),
  /** ms since the epoch on the agent. */
  at: v.number(),
  pid: v.optional(count),
  state: v.optional(JobEndStateSchema),
  exitCode: v.optional(v.nullable(v.pipe(v.number(), v.integer()))),
  signal: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(20)))),
  reason: v.optional(v.pipe(v.string(), v.maxLength(1000))),
  startedAt: v.optional(v.number()),
  stdout: v.optional(outText),
  stderr: v.optional(outText),
  stdoutTruncated: v.optional(v.boolean()),
  stderrTruncated: v.optional(v.boolean()),
  /** Accounting of a finished attempt: wall time, CPU of the process group (rusage), largest resident set seen. */
  elapsedMs: v.optional(v.nullable(msCount)),
  cpuUserMs: v.optional(v.nullable(msCount)),
  cpuSysMs: v.optional(v.nullable(msCount)),
  maxRssBytes: v.optional(v.nullable(v.pipe(count, v.maxValue(2 ** 53)))),
  /**
   * With `finished`: the attempt was ended by the host, not by the job or a
   * request (the agent fenced itself without a master, or found it left from
   * before a restart). The master requeues it (or loses it) like an attempt
   * of a dead host, instead of recording a final state.
   */
  lost: v.optional(v.boolean()),
});

export const AGENT_STATUSES = ["online", "degraded", "offline"] as const;
export const AgentHealthStatusSchema = v.picklist(AGENT_STATUSES);

/**
 * Sent after registration (and whenever asked): the jobs this agent is
 * running, so the master can reconcile; and/or the agent's own status
 * (online, degraded, offline on a clean stop) whenever it changes. Either
 * part may come alone.
 */
export const AgentStatusSchema = v.object({
  type: v.literal("status"),
  jobs: v.optional(v.pipe(v.array(v.object({ jobId, attempt })), v.maxLength(100_000))),
  status: v.optional(AgentHealthStatusSchema),
  /** Why degraded (the failing checks), for `ctl hosts`. */
  detail: v.optional(v.pipe(v.string(), v.maxLength(500))),
});

/** Asks for a fresh session token (sent before the current one expires). */
export const SessionRefreshSchema = v.object({ type: v.literal("session_refresh") });

// ---- remote commands, health, alerts, logs, self-update (design §4; docs/api.md)
const requestId = v.pipe(v.string(), v.minLength(1), v.maxLength(100));
const argvSchema = v.pipe(v.array(v.pipe(v.string(), v.maxLength(JOB_LIMITS.argBytes))), v.minLength(1), v.maxLength(JOB_LIMITS.argvItems));
export const SeveritySchema = v.picklist(["info", "warning", "critical"]);
export const CheckStatusSchema = v.picklist(["ok", "warning", "critical", "unknown"]);

/** A chunk of a running command's output, streamed as it comes. */
export const CommandOutputSchema = v.object({
  type: v.literal("command_output"),
  requestId,
  stream: v.picklist(["stdout", "stderr"]),
  data: v.pipe(v.string(), v.maxLength(256 * 1024)),
});
/** The end of an `execute` (or of an `update_agent`): refused by policy, failed to start, timed out, or ran. */
export const CommandResultSchema = v.object({
  type: v.literal("command_result"),
  requestId,
  status: v.picklist(["ok", "refused", "failed", "timeout"]),
  exitCode: v.optional(v.nullable(v.pipe(v.number(), v.integer()))),
  signal: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(20)))),
  error: v.optional(v.pipe(v.string(), v.maxLength(2000))),
  stdoutTruncated: v.optional(v.boolean()),
  stderrTruncated: v.optional(v.boolean()),
  durationMs: v.optional(v.number()),
});
export const HealthSchema = v.object({
  type: v.literal("health"),
  /** Set when answering a `health_check`; absent for the periodic report. */
  requestId: v.optional(requestId),
  at: v.number(),
  checks: v.pipe(v.record(v.pipe(v.string(), v.maxLength(100)), v.object({ status: CheckStatusSchema, detail: v.pipe(v.string(), v.maxLength(2000)) })), v.check((c) => Object.keys(c).length <= 256, "too many checks")),
});
export const AlertSchema = v.object({
  type: v.literal("alert"),
  /** Stable per (host, rule): the same id while active, so raising twice is deduplicated. */
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  rule: v.pipe(v.string(), v.maxLength(200)),
  severity: SeveritySchema,
  state: v.picklist(["firing", "resolved"]),
  message: v.pipe(v.string(), v.maxLength(2000)),
  value: v.optional(v.number()),
  at: v.number(),
});
export const LogLineSchema = v.object({ type: v.literal("log_line"), requestId, line: v.pipe(v.string(), v.maxLength(64 * 1024)), at: v.optional(v.number()) });
/** What a running job wrote so far (answer to `peek_job`): bytes from the offsets asked, up to maxBytes per stream. */
export const JobOutputSchema = v.object({
  type: v.literal("job_output"),
  requestId,
  jobId,
  attempt: v.optional(attempt),
  /** The attempt is still running here. */
  running: v.boolean(),
  stdout: v.pipe(v.string(), v.maxLength(PEEK_BYTES_MAX * 2)),
  stderr: v.pipe(v.string(), v.maxLength(PEEK_BYTES_MAX * 2)),
  /** Byte offsets the texts start at (past the asked offset when the agent no longer holds that part), and bytes written so far. */
  stdoutFrom: v.pipe(count, v.maxValue(2 ** 53)),
  stderrFrom: v.pipe(count, v.maxValue(2 ** 53)),
  stdoutTotal: v.pipe(count, v.maxValue(2 ** 53)),
  stderrTotal: v.pipe(count, v.maxValue(2 ** 53)),
  /** Set when the output cannot be read (not running here, an output file that cannot be read). */
  error: v.optional(v.pipe(v.string(), v.maxLength(2000))),
});
/** The end of a `stream_logs`: the file ended (not following), it was stopped, or it failed (error). */
export const LogsEndSchema = v.object({ type: v.literal("logs_end"), requestId, error: v.optional(v.pipe(v.string(), v.maxLength(2000))) });

// ---- telemetry (design §4; docs/api.md "Telemetry")
/** Bounds of a telemetry message: its JSON at most `bytes`, and each list at most so many items. */
export const TELEMETRY_LIMITS = { bytes: 64 * 1024, filesystems: 64, interfaces: 64, disks: 64, processes: 10, gpus: 16, containers: 100 } as const;
const gauge = v.pipe(v.number(), v.minValue(0), v.maxValue(2 ** 53));
const label = (max: number) => v.pipe(v.string(), v.maxLength(max));
const TelemetryProcessSchema = v.object({ pid: v.pipe(count, v.maxValue(2 ** 32)), user: v.optional(label(64)), command: label(256), cpuPercent: gauge, rssBytes: gauge });
/**
 * Every `agent.telemetry.interval` (60 s): what the host looks like beyond
 * the load report. Each part is absent when it could not be read (`skipped`
 * says why). Rates are per second over the interval.
 */
export const TelemetrySchema = v.object({
  type: v.literal("telemetry"),
  /** ms since the epoch on the agent. */
  at: v.number(),
  /** The agent's interval: the master's history fills the buckets between two messages up to 2.5 of these. */
  intervalMs: v.pipe(count, v.minValue(1000), v.maxValue(86_400_000)),
  filesystems: v.optional(v.pipe(v.array(v.object({ mount: label(4096), fstype: label(64), sizeBytes: gauge, usedBytes: gauge, inodes: v.optional(gauge), inodesUsed: v.optional(gauge) })), v.maxLength(TELEMETRY_LIMITS.filesystems))),
  network: v.optional(v.pipe(v.array(v.object({ name: label(64), rxBytesPerSec: gauge, txBytesPerSec: gauge, rxErrorsPerSec: gauge, txErrorsPerSec: gauge })), v.maxLength(TELEMETRY_LIMITS.interfaces))),
  disks: v.optional(v.pipe(v.array(v.object({ name: label(64), readBytesPerSec: gauge, writeBytesPerSec: gauge, readsPerSec: gauge, writesPerSec: gauge })), v.maxLength(TELEMETRY_LIMITS.disks))),
  processes: v.optional(v.object({ byCpu: v.pipe(v.array(TelemetryProcessSchema), v.maxLength(TELEMETRY_LIMITS.processes)), byMemory: v.pipe(v.array(TelemetryProcessSchema), v.maxLength(TELEMETRY_LIMITS.processes)) })),
  gpus: v.optional(v.pipe(v.array(v.object({ index: v.pipe(count, v.maxValue(1024)), name: label(128), utilPercent: v.pipe(gauge, v.maxValue(100)), memUsedBytes: gauge, memTotalBytes: gauge })), v.maxLength(TELEMETRY_LIMITS.gpus))),
  containers: v.optional(v.pipe(v.array(v.object({ id: label(64), name: label(256), image: label(256), state: label(32), cpuPercent: v.optional(gauge), memBytes: v.optional(gauge) })), v.maxLength(TELEMETRY_LIMITS.containers))),
  /** Parts left out, and why ("no Docker or Podman socket", "nvidia-smi not found", "over the size bound"). */
  skipped: v.optional(v.pipe(v.record(label(32), label(500)), v.check((x) => Object.keys(x).length <= 16, "too many skipped parts"))),
});

export const AgentMessageSchema = v.variant("type", [
  RegisterSchema,
  PongSchema,
  JobEventSchema,
  AgentStatusSchema,
  SessionRefreshSchema,
  CommandOutputSchema,
  CommandResultSchema,
  HealthSchema,
  AlertSchema,
  LogLineSchema,
  LogsEndSchema,
  TelemetrySchema,
  JobOutputSchema,
]);

// ---- master → agent
/** followSpreadMs: at most an hour (the agent takes at most its reconnectMin anyway). */
const followSpread = v.pipe(count, v.maxValue(3_600_000));
export const RegisteredSchema = v.object({
  type: v.literal("registered"),
  hostId: v.pipe(count, v.minValue(1), v.maxValue(0xffffffff)),
  sessionKey: v.pipe(v.string(), v.base64()),
  reportIntervalMs: v.pipe(count, v.minValue(100)),
  udpPort: v.pipe(count, v.minValue(1), v.maxValue(65535)),
  /** The master's TCP report port (docs/protocol.md "TCP transport"); absent when it takes no TCP reports. */
  tcpReportPort: v.optional(v.pipe(count, v.minValue(1), v.maxValue(65535))),
  /** The master's jobs.lostAfter: an agent without a master this long fences its jobs itself (half of it; docs/jobs.md). */
  lostAfterMs: v.optional(v.pipe(count, v.minValue(100), v.maxValue(365 * 86400 * 1000))),
  /** Short-lived token bound to this host (and its key): reconnect with it, refresh it before it expires. */
  sessionToken: v.optional(v.pipe(v.string(), v.maxLength(4096))),
  /** ms since the epoch (master clock) when sessionToken expires. */
  sessionExpiresAtMs: v.optional(v.pipe(count, v.maxValue(2 ** 53))),
  /** A resumed session (same key as before): the last report seq the master accepted; continue above it. */
  reportSeq: v.optional(v.pipe(count, v.maxValue(0xffffffff))),
  /** "host:port" of every master of the cluster: the agent follows announces only from these or its own list. */
  masters: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(300))), v.maxLength(16))),
  /** The window (ms) to spread a move to a new leader over (the fleet over the master's resume admission rate); agents take at most reconnectMin. */
  followSpreadMs: v.optional(followSpread),
});
/** A fresh session token, answering session_refresh. */
export const SessionTokenSchema = v.object({
  type: v.literal("session_token"),
  token: v.pipe(v.string(), v.maxLength(4096)),
  expiresAtMs: v.pipe(count, v.maxValue(2 ** 53)),
});
/** Reports the master accepted in this session, by transport (agent.reportTransport auto decides on them). */
export const ReportCountsSchema = v.object({ udp: v.pipe(count, v.maxValue(2 ** 53)), tcp: v.pipe(count, v.maxValue(2 ** 53)) });
/** `followSpreadMs`: as in `registered`, kept current (the fleet grows and shrinks). */
export const PingSchema = v.object({ type: v.literal("ping"), ts: v.number(), reports: v.optional(ReportCountsSchema), followSpreadMs: v.optional(followSpread) });
/** `leader` ("host:port") comes with error "not_leader": a follower sends agents to the leader. */
export const ErrorSchema = v.object({ type: v.literal("error"), error: v.string(), detail: v.optional(v.string()), requestId: v.optional(v.string()), leader: v.optional(v.pipe(v.string(), v.maxLength(300))) });

export const RunJobSchema = v.object({
  type: v.literal("run_job"),
  jobId,
  attempt,
  argv: v.pipe(v.array(v.pipe(v.string(), v.maxLength(JOB_LIMITS.argBytes))), v.minLength(1), v.maxLength(JOB_LIMITS.argvItems)),
  env: v.optional(v.pipe(v.record(v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/)), v.pipe(v.string(), v.maxLength(JOB_LIMITS.argBytes))), v.check((e) => Object.keys(e).length <= JOB_LIMITS.envItems, "too many env entries"))),
  cwd: v.optional(v.pipe(v.string(), v.maxLength(4096))),
  /** 0 or absent: no timeout. */
  timeoutMs: v.optional(v.pipe(count, v.maxValue(365 * 86400 * 1000))),
  outputLimitBytes: v.optional(v.pipe(count, v.maxValue(JOB_LIMITS.outputBytesMax))),
  /** Between SIGTERM and SIGKILL when the job is killed (timeout or kill_job); default 10 s. */
  killGraceMs: v.optional(v.pipe(count, v.maxValue(3600 * 1000))),
  /** Token subject that submitted it: agent.jobs.users maps it to the Unix user the job runs as. */
  subject: v.optional(v.pipe(v.string(), v.maxLength(256))),
  /** GPUs to hand the job (CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES): the master reserved that many on this host. */
  gpus: v.optional(v.pipe(count, v.maxValue(1024))),
  /** An array element: the array's id and this element's index (LAVA_ARRAY_JOB_ID, LAVA_ARRAY_INDEX). */
  arrayId: v.optional(jobId),
  arrayIndex: v.optional(v.pipe(count, v.maxValue(2 ** 31))),
  name: v.optional(v.pipe(v.string(), v.maxLength(255))),
  /** Output to these files on the host (opened by the job's user, truncated) instead of captured; patterns already expanded. */
  stdoutPath: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
  stderrPath: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
});
export const KillJobSchema = v.object({ type: v.literal("kill_job"), jobId, attempt: v.optional(attempt), reason: v.optional(v.pipe(v.string(), v.maxLength(1000))) });
/** Send a signal to a running job's process group without ending it (`lava ctl cancel --signal`). */
export const SignalJobSchema = v.object({ type: v.literal("signal_job"), jobId, attempt: v.optional(attempt), signal: v.picklist(JOB_SIGNALS) });
/** What a running job wrote so far (`lava ctl peek`); answered with `job_output`. */
export const PeekJobSchema = v.object({
  type: v.literal("peek_job"),
  requestId,
  jobId,
  attempt: v.optional(attempt),
  stdoutFrom: v.optional(v.pipe(count, v.maxValue(2 ** 53))),
  stderrFrom: v.optional(v.pipe(count, v.maxValue(2 ** 53))),
  /** Per stream; default and most PEEK_BYTES_MAX. */
  maxBytes: v.optional(v.pipe(count, v.minValue(1), v.maxValue(PEEK_BYTES_MAX))),
});
/** The master has durably recorded these job events; the agent may forget them. */
export const AckSchema = v.object({ type: v.literal("ack"), eventIds: v.pipe(v.array(v.pipe(v.string(), v.maxLength(100))), v.maxLength(10_000)) });

export const ExecuteSchema = v.object({
  type: v.literal("execute"),
  requestId,
  argv: argvSchema,
  timeoutMs: v.pipe(count, v.minValue(1), v.maxValue(24 * 3600 * 1000)),
  outputLimitBytes: v.optional(v.pipe(count, v.maxValue(JOB_LIMITS.outputBytesMax))),
  /** master.exec.deny, for the agent to check against the file argv[0] resolves to (symlinks, PATH). */
  deny: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(4096))), v.maxLength(1000))),
});
export const HealthCheckSchema = v.object({ type: v.literal("health_check"), requestId });
export const StreamLogsSchema = v.object({
  type: v.literal("stream_logs"),
  requestId,
  path: v.optional(v.pipe(v.string(), v.maxLength(4096))),
  unit: v.optional(v.pipe(v.string(), v.maxLength(256))),
  follow: v.boolean(),
  /** Lines from the end to start with (like tail -n). */
  lines: v.optional(v.pipe(count, v.maxValue(100_000))),
});
export const StopLogsSchema = v.object({ type: v.literal("stop_logs"), requestId });
export const UpdateAgentSchema = v.object({
  type: v.literal("update_agent"),
  requestId,
  /** Path on the master's HTTP port to fetch the binary from (with the agent's token). */
  path: v.pipe(v.string(), v.maxLength(200)),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  version: v.pipe(v.string(), v.maxLength(100)),
});

/**
 * Named deploy actions (docs/api.md "Deploy"): the agent's config defines
 * each (agent.deploy.<name>: argv, env, timeout); the master names one and
 * passes parameters, which reach the command only as environment variables
 * LAVA_PARAM_<NAME> (never on a command line, never through a shell).
 */
export const DEPLOY_LIMITS = { params: 32, paramValueChars: 4096, waveSizeMax: 1000 } as const;
export const DEPLOY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const DEPLOY_PARAM_RE = /^[a-z][a-z0-9_]{0,31}$/;
export const DeployNameSchema = v.pipe(v.string(), v.regex(DEPLOY_NAME_RE, "deploy action names: letters, digits, '.', '_', '-', at most 64, starting with a letter or digit"));
export const DeployParamsSchema = v.pipe(
  v.record(
    v.pipe(v.string(), v.regex(DEPLOY_PARAM_RE, "parameter names: lowercase letters, digits and '_', at most 32, starting with a letter")),
    v.pipe(v.string(), v.maxLength(DEPLOY_LIMITS.paramValueChars, `parameter values: at most ${DEPLOY_LIMITS.paramValueChars} characters`), v.check((s) => !s.includes("\0"), "parameter values must not contain NUL")),
  ),
  v.check((p) => Object.keys(p).length <= DEPLOY_LIMITS.params, `at most ${DEPLOY_LIMITS.params} parameters`),
);
export const DeploySchema = v.object({
  type: v.literal("deploy"),
  requestId,
  name: DeployNameSchema,
  params: DeployParamsSchema,
  /** The master's wait; the agent kills the action at the smaller of this and its own timeout. */
  timeoutMs: v.optional(v.pipe(count, v.minValue(1), v.maxValue(24 * 3600 * 1000))),
});

export const MasterMessageSchema = v.variant("type", [
  RegisteredSchema,
  SessionTokenSchema,
  PingSchema,
  ErrorSchema,
  RunJobSchema,
  KillJobSchema,
  AckSchema,
  ExecuteSchema,
  HealthCheckSchema,
  StreamLogsSchema,
  StopLogsSchema,
  UpdateAgentSchema,
  DeploySchema,
  SignalJobSchema,
  PeekJobSchema,
]);

export type Hardware = v.InferOutput<typeof HardwareSchema>;
export type Register = v.InferOutput<typeof RegisterSchema>;
export type Registered = v.InferOutput<typeof RegisteredSchema>;
export type Ping = v.InferOutput<typeof PingSchema>;
export type AgentMessage = v.InferOutput<typeof AgentMessageSchema>;
export type JobEvent = v.InferOutput<typeof JobEventSchema>;
export type AgentStatusMessage = v.InferOutput<typeof AgentStatusSchema>;
/** The job part of `status`, what reconciliation reads. */
export type AgentStatus = { type: "status"; jobs: { jobId: number; attempt: number }[] };
export type AgentHealthStatus = v.InferOutput<typeof AgentHealthStatusSchema>;
export type RegisterProof = v.InferOutput<typeof RegisterProofSchema>;
export type SessionToken = v.InferOutput<typeof SessionTokenSchema>;
export type RunJob = v.InferOutput<typeof RunJobSchema>;
export type KillJob = v.InferOutput<typeof KillJobSchema>;
export type Ack = v.InferOutput<typeof AckSchema>;
export type JobEndState = v.InferOutput<typeof JobEndStateSchema>;
export type CommandOutput = v.InferOutput<typeof CommandOutputSchema>;
export type CommandResult = v.InferOutput<typeof CommandResultSchema>;
export type Health = v.InferOutput<typeof HealthSchema>;
export type Alert = v.InferOutput<typeof AlertSchema>;
export type LogLine = v.InferOutput<typeof LogLineSchema>;
export type LogsEnd = v.InferOutput<typeof LogsEndSchema>;
export type Telemetry = v.InferOutput<typeof TelemetrySchema>;
export type Execute = v.InferOutput<typeof ExecuteSchema>;
export type HealthCheck = v.InferOutput<typeof HealthCheckSchema>;
export type StreamLogs = v.InferOutput<typeof StreamLogsSchema>;
export type StopLogs = v.InferOutput<typeof StopLogsSchema>;
export type UpdateAgent = v.InferOutput<typeof UpdateAgentSchema>;
export type Deploy = v.InferOutput<typeof DeploySchema>;
export type SignalJob = v.InferOutput<typeof SignalJobSchema>;
export type PeekJob = v.InferOutput<typeof PeekJobSchema>;
export type JobOutput = v.InferOutput<typeof JobOutputSchema>;
/** Master → agent requests other than jobs: handled by the agent's request modules. */
export type AgentRequest = Execute | HealthCheck | StreamLogs | StopLogs | UpdateAgent | Deploy | PeekJob;
/** Agent → master messages other than the handshake and jobs. */
export type AgentReport = CommandOutput | CommandResult | Health | Alert | LogLine | LogsEnd | JobOutput;
export type MasterMessage = v.InferOutput<typeof MasterMessageSchema>;

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string; detail: string };

/** Parses one text frame against a message union (by a lookup of its type: variant.ts); never throws. */
export function parseMessage<S extends Variant>(schema: S, text: string | Buffer | ArrayBuffer | Uint8Array): ParseResult<v.InferOutput<S>> {
  const str = typeof text === "string" ? text : new TextDecoder().decode(text as Uint8Array);
  if (str.length > MAX_MESSAGE_BYTES) return { ok: false, error: "too_large", detail: `message over ${MAX_MESSAGE_BYTES} bytes` };
  let data: unknown;
  try {
    data = JSON.parse(str);
  } catch {
    return { ok: false, error: "bad_json", detail: "message is not valid JSON" };
  }
  const r = parserOf(schema)(data);
  if (!r.success) return { ok: false, error: "bad_message", detail: v.summarize(r.issues).slice(0, 500) };
  return { ok: true, message: r.output };
}
