/**
 * The one configuration schema (design §9). Defaults live here, not in the
 * CLI definitions, so that file, env and flags all meet the same rules.
 *
 * YAML keys are the camelCase form of the flag names (`--data-dir` is
 * `master.dataDir`); env variables are `LAVA_` + the key in UPPER_SNAKE
 * (`LAVA_DATA_DIR`), read for the section of the role being started.
 */
import * as v from "valibot";
import { DEPLOY_NAME_RE } from "../control/messages.ts";
import { entryProblem, type AllowEntry } from "../policy/index.ts";
import { LABEL_RE, LABELS_MAX } from "../control/messages.ts";

const port = (what: string) =>
  v.pipe(v.number(), v.integer(`${what} must be a whole number`), v.minValue(0, `${what} must be 0-65535`), v.maxValue(65535, `${what} must be 0-65535`));

const positive = (what: string) => v.pipe(v.number(), v.minValue(0, `${what} must not be negative`));

export const LOG_LEVELS = ["silent", "error", "warn", "info", "debug", "trace"] as const;
export const LOG_FORMATS = ["pretty", "json"] as const;

/**
 * One allowlist entry (src/policy/allowlist.ts): a command, or
 * [command, argument patterns…]. A bad pattern stops start-up here, naming it.
 */
const AllowEntrySchema = v.pipe(
  v.union([v.string(), v.array(v.string())], "an allowlist entry is a command (a string) or a list [command, argument patterns…]"),
  v.check((e) => entryProblem(e as AllowEntry) === null, (issue) => `allowlist entry ${JSON.stringify(issue.input)}: ${entryProblem(issue.input as AllowEntry)}`),
);
const allowList = () => v.optional(v.array(AllowEntrySchema), []);

const LogSchema = v.strictObject({
  level: v.optional(v.picklist(LOG_LEVELS), "info"),
  format: v.optional(v.picklist(LOG_FORMATS), "pretty"),
});

/** Thresholds that make a reporting host `busy` (design §3). */
const BusySchema = v.strictObject({
  /** load1 divided by ncpus. */
  loadPerCpu: v.optional(positive("busy.loadPerCpu"), 1.5),
  /** percent of all CPUs busy (user + sys). */
  cpuPercent: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(101)), 95),
  /** percent of memory in use. */
  memPercent: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(101)), 95),
});

const QueueSchema = v.strictObject({
  /** Host name patterns (`*`, `?`) of the pool; empty = every host. */
  hosts: v.optional(v.array(v.string()), []),
  /** Most jobs of this queue running at once. */
  maxRunning: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1, "maxRunning must be at least 1"))),
  /** Higher is served first. */
  priority: v.optional(v.pipe(v.number(), v.integer()), 0),
  /** Token subjects allowed to submit to this queue; empty = any admin. */
  users: v.optional(v.array(v.string()), []),
  /** Jobs submitted to this queue wait for a second admin's `lava ctl approve` (docs/api.md "Approvals"). */
  requireApproval: v.optional(v.boolean()),
});

const JobsSchema = v.strictObject({
  /** Seconds a host may be unavail, or without its control channel, before its running jobs are requeued (or LOST). */
  lostAfter: v.optional(v.pipe(v.number(), v.minValue(0.1)), 60),
  /** First retry delay in seconds; doubles per attempt, capped at 10 min. */
  retryBackoff: v.optional(v.pipe(v.number(), v.minValue(0)), 5),
  /** Seconds an agent has to report a dispatched job started before it is requeued. */
  dispatchTimeout: v.optional(v.pipe(v.number(), v.minValue(0.1)), 30),
  /** Grace between SIGTERM and SIGKILL when a job is killed, in seconds (sent to agents). */
  killGrace: v.optional(v.pipe(v.number(), v.minValue(0)), 10),
});

/**
 * Registrations with an operator's token (not a session token's cheap
 * resume) per second, per token and per source address, each with a burst.
 */
const RegistrationsSchema = v.strictObject({
  perToken: v.optional(v.pipe(v.number(), v.minValue(0.01)), 50),
  perAddress: v.optional(v.pipe(v.number(), v.minValue(0.01)), 50),
  /** Registrations one token or address may make at once before the rates apply. */
  burst: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 500),
});

const MasterExecSchema = v.strictObject({
  /** Commands the master lets through to agents (entries as in agent.exec.allow); empty = leave it to each agent's allowlist. */
  allow: allowList(),
  /** Commands the master always refuses, whatever the agents allow. */
  deny: v.optional(v.array(v.string()), []),
  /** Most hosts one exec may target at once (bigger fan-outs run in waves of this size). */
  maxParallel: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1000),
  /**
   * Commands (argv[0]) that wait for a second admin's approval before they
   * run: entries as for `deny`, or globs with `*` and `?` ("*" = every command).
   */
  requireApproval: v.optional(v.array(v.pipe(v.string(), v.minLength(1))), []),
  /** Seconds a held request waits for a decision before it expires. */
  approvalTtl: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(30 * 86400)), 3600),
});

const MasterAlertsSchema = v.strictObject({
  /** POST each alert change (JSON) here; empty = no webhook. */
  webhook: v.optional(v.string()),
});

const UpgradeSchema = v.strictObject({
  /** Hosts told to update at once; the next wave starts when this one has re-registered or failed. */
  waveSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 10),
  /** Seconds a host has to come back on the new version before it counts as failed. */
  timeout: v.optional(v.pipe(v.number(), v.minValue(1)), 120),
});

/** Load history and the shared-memory load table (docs/history.md). */
const MasterHistorySchema = v.strictObject({
  /** Keep each host's load history in <dataDir>/history.lava (about 76 KiB per host on disk, 3.7 KiB of memory). */
  enabled: v.optional(v.boolean(), true),
  /** Seconds between two writes of a host's history to the file (rrdcached's -w): what a crash or SIGKILL loses at most. */
  flushInterval: v.optional(v.pipe(v.number(), v.minValue(1, "history.flushInterval must be at least 1 s"), v.maxValue(600, "history.flushInterval is at most 600 s")), 60),
});

const MasterLoadTableSchema = v.strictObject({
  /** Publish the live host table in <dataDir>/load.table for `lava ctl load --local` and local readers. */
  enabled: v.optional(v.boolean(), true),
});

/** Raft between masters (design §6; docs/raft.md). Defaults suit a LAN; every value is in ticks or ms as named. */
const RaftSchema = v.strictObject({
  /** Length of one Raft tick. */
  tickMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)), 50),
  /** Ticks without a leader before a follower campaigns, randomized up to twice this (8 × 50 ms: 0.4–0.8 s). */
  electionTicks: v.optional(v.pipe(v.number(), v.integer(), v.minValue(3), v.maxValue(1000)), 8),
  /** Leader heartbeat period in ticks; must be below electionTicks. */
  heartbeatTicks: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000)), 2),
  /** Most entries in one append to a follower. */
  batchSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000)), 100),
  /** Append messages in flight to one follower before waiting for its answers. */
  maxInflight: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1024)), 64),
  /** A follower further behind than this many entries is sent a snapshot instead. */
  resyncThreshold: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1000),
  /** Seconds a snapshot transfer may take. */
  snapshotTimeout: v.optional(v.pipe(v.number(), v.minValue(1)), 60),
  /** Applied entries kept in the log for followers that fall behind; older ones are dropped (the state holds them). */
  keepEntries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100)), 10_000),
  /** Seconds a write waits to be committed before the caller is told it timed out (it may still be applied). */
  proposalTimeout: v.optional(v.pipe(v.number(), v.minValue(0.1)), 10),
  /** Start as a new, empty member of an existing cluster (added with `lava ctl cluster add`), not as a founder. */
  join: v.optional(v.boolean(), false),
});

const PEER_RE = /^[1-9]\d{0,9}=[^\s=]+:\d{1,5}$/;

const pemPath = (key: string, what: string) => v.pipe(v.string(`${key} is the path of ${what}`), v.minLength(1, `${key} is the path of ${what}`));

/**
 * TLS on the master's HTTP port (HTTPS, WSS, Raft between masters; design §7).
 * Every master of one cluster has it or none does: peers are called with the
 * scheme of this master's own setting (docs/operations.md, "TLS").
 */
const MasterTlsSchema = v.strictObject(
  {
    /** PEM certificate chain served on the HTTP port; its SANs must cover the advertised and peer addresses. */
    cert: pemPath("tls.cert", "the master's PEM certificate"),
    /** PEM private key of `cert`. */
    key: pemPath("tls.key", "the PEM private key of tls.cert"),
    /** PEM CA bundle the other masters' certificates are verified against; default: the system store. */
    ca: v.optional(pemPath("tls.ca", "a PEM CA bundle")),
    /**
     * Mutual TLS: every client of the HTTP port (the other masters, agents,
     * ctl) must present a certificate `ca` signed. Masters present their own
     * `cert` to each other (it must allow clientAuth).
     */
    requireClientCert: v.optional(v.boolean(), false),
  },
  // Also the message for a missing cert or key.
  "tls needs both cert and key (paths of the master's PEM certificate and its private key)",
);

/** How agents and ctl verify a TLS master. Setting the section (even `tls: {}`) makes addresses without a scheme https. */
const ClientTlsSchema = v.strictObject({
  /** PEM CA bundle the master's certificate is verified against; default: the system store. */
  ca: v.optional(pemPath("tls.ca", "a PEM CA bundle")),
  /** Accept any certificate (labs only: no server authentication; logged as a warning). */
  insecureSkipVerify: v.optional(v.boolean(), false),
  /** PEM client certificate and its key, for masters with master.tls.requireClientCert. */
  cert: v.optional(pemPath("tls.cert", "a PEM client certificate")),
  key: v.optional(pemPath("tls.key", "the PEM private key of tls.cert")),
});

export const MasterSchema = v.strictObject({
  /** Where the secret, tokens and the database live. Default chosen at run time (see defaultDataDir). */
  dataDir: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Address the UDP and HTTP listeners bind to. */
  bind: v.optional(v.string(), "0.0.0.0"),
  udpPort: v.optional(port("udpPort"), 6879),
  httpPort: v.optional(port("httpPort"), 6880),
  /** TCP port for length-framed reports where UDP is blocked; 0 = off. */
  tcpReportPort: v.optional(port("tcpReportPort"), 0),
  /** Address agents and ctl are told to use for this master ("host:port"); default bind:httpPort. */
  advertise: v.optional(v.string()),
  /** Development mode: no tokens on /ws and the API, reports without AUTH accepted. */
  insecure: v.optional(v.boolean(), false),
  /** Cluster secret file; default <dataDir>/secret. */
  secretFile: v.optional(v.string()),
  /** Report interval handed to agents at registration, in seconds. */
  reportInterval: v.optional(v.pipe(v.number(), v.minValue(1, "reportInterval must be at least 1 s"), v.maxValue(3600)), 4),
  /** MASTER_ANN period in seconds. */
  announceInterval: v.optional(v.pipe(v.number(), v.minValue(0.05), v.maxValue(3600)), 4),
  /** Seconds between WebSocket pings; a session missing 2 pongs is dropped. */
  pingInterval: v.optional(v.pipe(v.number(), v.minValue(0.05), v.maxValue(3600)), 30),
  /** WebSocket upgrades admitted per second before answering 503 + Retry-After (storm protection). */
  wsAdmitPerSec: v.optional(v.pipe(v.number(), v.minValue(1)), 500),
  /**
   * WebSocket upgrades carrying a session token (agents coming back: a
   * resume writes nothing) admitted per second, in a bucket of their own so
   * a fleet reconnecting after a restart is not held behind first registrations.
   */
  wsResumePerSec: v.optional(v.pipe(v.number(), v.minValue(1)), 2000),
  /**
   * Host keys in `register` (docs/security.md): `require` refuses an agent
   * without one (unless --insecure); `allow-missing` admits older agents
   * during a rolling upgrade (a host already bound to a key still needs it).
   */
  hostKeys: v.optional(v.picklist(["require", "allow-missing"]), "require"),
  /** Most hosts the cluster registers; a new host beyond it is refused. */
  maxHosts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 100_000),
  /** Lifetime of the session tokens agents get at registration, in seconds (they refresh them at half-life). */
  sessionTokenTtl: v.optional(v.pipe(v.number(), v.minValue(2), v.maxValue(86_400)), 3600),
  registrations: v.optional(RegistrationsSchema, {}),
  busy: v.optional(BusySchema, {}),
  /** Named host pools jobs are submitted to; `default` (every host) always exists. */
  queues: v.optional(v.record(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "queue names: letters, digits, '.', '_', '-'")), QueueSchema), {}),
  jobs: v.optional(JobsSchema, {}),
  exec: v.optional(MasterExecSchema, {}),
  alerts: v.optional(MasterAlertsSchema, {}),
  upgrade: v.optional(UpgradeSchema, {}),
  history: v.optional(MasterHistorySchema, {}),
  loadTable: v.optional(MasterLoadTableSchema, {}),
  /** This master's Raft node id (env LAVA_NODE_ID): unique in the cluster, 1 … 4294967295. */
  nodeId: v.optional(v.pipe(v.number(), v.integer("nodeId must be a whole number"), v.minValue(1, "nodeId must be 1 … 4294967295"), v.maxValue(0xffff_ffff, "nodeId must be 1 … 4294967295")), 1),
  /** The other masters, each "ID=HOST:PORT" of its HTTP port (env LAVA_RAFT_PEERS, comma-separated). Empty: a single master. */
  raftPeers: v.optional(v.array(v.pipe(v.string(), v.regex(PEER_RE, "each raft peer is ID=HOST:PORT, e.g. 2=10.0.0.2:6880"))), []),
  /** Bootstrap hint (env LAVA_IS_LEADER): campaign at once on start. Still needs a majority; safety never depends on it. */
  isLeader: v.optional(v.boolean(), false),
  raft: v.optional(RaftSchema, {}),
  /** HTTPS/WSS on httpPort and https between masters; absent = plain HTTP. */
  tls: v.optional(MasterTlsSchema),
  log: v.optional(LogSchema, {}),
});

const AgentExecSchema = v.strictObject({
  /** Commands the agent may run: argv[0] (exact path or bare name), or [command, argument patterns…]. Empty: none. */
  allow: allowList(),
  /** Bound on captured stdout and on stderr of one command, in bytes. */
  outputLimit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 1 << 20),
});

const AgentLogsSchema = v.strictObject({
  /** Files (or directory prefixes ending in /, or globs) `lava ctl logs` may read. Empty: none. */
  allow: v.optional(v.array(v.string()), []),
  /** journald units `lava ctl logs --unit` may read. Empty: none. */
  units: v.optional(v.array(v.string()), []),
});

const HealthCheckCmdSchema = v.strictObject({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
  /** argv, run directly (no shell); exit 0 ok, 1 warning, 2+ critical (Nagios convention). */
  argv: v.pipe(v.array(v.string()), v.minLength(1)),
  timeout: v.optional(v.pipe(v.number(), v.minValue(0.1)), 10),
});

const AgentHealthSchema = v.strictObject({
  /** Seconds between self-checks sent to the master. */
  interval: v.optional(v.pipe(v.number(), v.minValue(1)), 300),
  /** Filesystem use percent that is a warning / critical. */
  diskWarn: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 80),
  diskCrit: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 95),
  /** Memory use percent that is a warning / critical. */
  memWarn: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 90),
  memCrit: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 98),
  checks: v.optional(v.array(HealthCheckCmdSchema), []),
});

const AlertRuleSchema = v.strictObject({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
  /** cpu (user+sys %), mem (% used), disk (% used of the fullest filesystem), load1, load1PerCpu, swap (% used). */
  metric: v.picklist(["cpu", "mem", "disk", "load1", "load1PerCpu", "swap"]),
  op: v.optional(v.picklist([">", ">=", "<", "<="]), ">"),
  /** Enter threshold. */
  threshold: v.number(),
  /** Clear threshold (hysteresis); default: the enter threshold. */
  clear: v.optional(v.number()),
  /** Seconds the condition must hold before the alert fires (and be clear before it resolves). */
  for: v.optional(v.pipe(v.number(), v.minValue(0)), 0),
  severity: v.optional(v.picklist(["info", "warning", "critical"]), "warning"),
});

const AgentAlertsSchema = v.strictObject({
  /** Rules evaluated on the agent's own samples. Default: cpu > 90 % for 5 min critical, disk > 80 % warning. */
  rules: v.optional(v.array(AlertRuleSchema), [
    { name: "cpu-high", metric: "cpu", op: ">", threshold: 90, clear: 85, for: 300, severity: "critical" },
    { name: "disk-full", metric: "disk", op: ">", threshold: 80, clear: 78, for: 0, severity: "warning" },
  ]),
  /** Seconds between evaluations. */
  interval: v.optional(v.pipe(v.number(), v.minValue(0.05)), 10),
});

/** One named deploy action (`lava ctl deploy NAME`; docs/api.md "Deploy"). */
const DeployActionSchema = v.strictObject({
  /** Run directly, never through a shell; parameters arrive as LAVA_PARAM_<NAME> in the environment. */
  argv: v.pipe(v.array(v.string()), v.minLength(1, "deploy argv must name a command")),
  /** Extra environment for the action (on top of PATH, HOME, LANG, USER). */
  env: v.optional(v.record(v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names: letters, digits, _")), v.string()), {}),
  /** Seconds before the action's process group is killed. */
  timeout: v.optional(v.pipe(v.number(), v.minValue(0.1), v.maxValue(86400)), 600),
});

const AgentTelemetrySchema = v.strictObject({
  /** Send telemetry (filesystems, network, disks, top processes, GPUs, containers) on the control channel. */
  enabled: v.optional(v.boolean(), true),
  /** Seconds between telemetry messages. */
  interval: v.optional(v.pipe(v.number(), v.minValue(1, "telemetry.interval must be at least 1 s"), v.maxValue(86_400)), 60),
  /** Docker- or Podman-compatible API sockets for the containers part, the first that exists is used; empty: no containers. */
  containerSockets: v.optional(v.array(v.string()), ["/var/run/docker.sock", "/run/podman/podman.sock"]),
});

/** Jobs on this agent (docs/jobs.md): who they run as, what they may run, whether a master's host takes any. */
const AgentJobsSchema = v.strictObject({
  /** Unix user jobs run as (when the agent runs as root). */
  user: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64)), "nobody"),
  /** Token subject → Unix user: jobs submitted with that subject's token run as that user instead. */
  users: v.optional(v.record(v.pipe(v.string(), v.minLength(1), v.maxLength(256)), v.pipe(v.string(), v.minLength(1), v.maxLength(64))), {}),
  /** Let jobs run as root (uid 0). Off: a job that would is refused. */
  allowRoot: v.optional(v.boolean(), false),
  /** Commands jobs may run, entries as in agent.exec.allow (argv[0], or a list with argument patterns); empty = any. */
  allow: allowList(),
  /** Take jobs although a lava master runs on this host (off: the host is listed but gets no jobs). */
  onMaster: v.optional(v.boolean(), false),
  /** Kill this host's jobs when no master has been heard for half of the master's jobs.lostAfter (so a requeued attempt never overlaps). */
  selfFence: v.optional(v.boolean(), true),
});

export const AgentSchema = v.strictObject({
  /** Master HTTP address(es), "host:port" or "https://host:port", comma-separated list tried in turn. */
  master: v.optional(v.string(), "127.0.0.1:6880"),
  token: v.optional(v.string()),
  /** File holding the token (mode 0600; keeps it out of `ps` and the environment); wins over `token`. */
  tokenFile: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Report interval in seconds; the master's value wins when it hands one out. */
  interval: v.optional(v.pipe(v.number(), v.minValue(1, "interval must be at least 1 s"), v.maxValue(3600)), 4),
  /** Overrides the system hostname (several agents on one machine in tests). */
  hostname: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(255))),
  /** Local UDP port reports are sent from; 0 = any. */
  reportPort: v.optional(port("reportPort"), 0),
  /**
   * How load reports travel (docs/protocol.md "TCP transport"): udp; tcp (to
   * the master's TCP report port, length-framed); auto (UDP, TCP while the
   * master's pings show UDP reports do not arrive).
   */
  reportTransport: v.optional(v.picklist(["udp", "tcp", "auto"], "reportTransport is udp, tcp or auto"), "auto"),
  /**
   * Where the agent keeps what must survive a restart (host key, records of
   * running jobs), mode 0700. Default chosen at run time (see defaultAgentStateDir).
   */
  stateDir: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Where /proc lives (tests point this at fixtures). */
  procRoot: v.optional(v.string(), "/proc"),
  /** Send reports without the AUTH block (a master in --insecure mode). */
  insecure: v.optional(v.boolean(), false),
  /** First reconnect delay in seconds and the backoff cap (design §4: ~10 s, 5 min). */
  reconnectMin: v.optional(v.pipe(v.number(), v.minValue(0.05)), 10),
  reconnectMax: v.optional(v.pipe(v.number(), v.minValue(0.05)), 300),
  exec: v.optional(AgentExecSchema, {}),
  jobs: v.optional(AgentJobsSchema, {}),
  /** GPUs this host offers to jobs; absent: detected (NVIDIA, AMD). */
  gpus: v.optional(v.pipe(v.number(), v.integer("gpus must be a whole number"), v.minValue(0, "gpus must not be negative"), v.maxValue(1024))),
  /** Labels jobs can ask for with `submit --constraint` (e.g. [ssd, ib]). */
  labels: v.optional(v.pipe(v.array(v.pipe(v.string(), v.regex(LABEL_RE, "labels: letters, digits, '.', '_', ':', '-', at most 64 characters"))), v.maxLength(LABELS_MAX)), []),
  logs: v.optional(AgentLogsSchema, {}),
  health: v.optional(AgentHealthSchema, {}),
  alerts: v.optional(AgentAlertsSchema, {}),
  /** Named deploy actions the master may start (`lava ctl deploy NAME`). Empty: none. */
  deploy: v.optional(v.record(v.pipe(v.string(), v.regex(DEPLOY_NAME_RE, "deploy action names: letters, digits, '.', '_', '-'")), DeployActionSchema), {}),
  telemetry: v.optional(AgentTelemetrySchema, {}),
  /** Verifying a TLS master (wss:// and https://). */
  tls: v.optional(ClientTlsSchema),
  log: v.optional(LogSchema, {}),
});

export const CtlSchema = v.strictObject({
  master: v.optional(v.string(), "127.0.0.1:6880"),
  token: v.optional(v.string()),
  /** File holding the token; wins over `token`. */
  tokenFile: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Per-request timeout in seconds before the next master in the list is tried. */
  timeout: v.optional(v.pipe(v.number(), v.minValue(0.1)), 10),
  /** Verifying a TLS master (https://). */
  tls: v.optional(ClientTlsSchema),
  log: v.optional(LogSchema, {}),
});

export const FileSchema = v.strictObject({
  master: v.optional(MasterSchema, {}),
  agent: v.optional(AgentSchema, {}),
  ctl: v.optional(CtlSchema, {}),
});

export const SECTIONS = { master: MasterSchema, agent: AgentSchema, ctl: CtlSchema } as const;
export type Role = keyof typeof SECTIONS;
export type MasterConfig = v.InferOutput<typeof MasterSchema>;
export type AgentConfig = v.InferOutput<typeof AgentSchema>;
export type CtlConfig = v.InferOutput<typeof CtlSchema>;
export type LogConfig = v.InferOutput<typeof LogSchema>;
export type MasterTlsConfig = v.InferOutput<typeof MasterTlsSchema>;
export type ClientTlsConfig = v.InferOutput<typeof ClientTlsSchema>;
export type SectionConfig<R extends Role> = v.InferOutput<(typeof SECTIONS)[R]>;
