/**
 * The master's durable state (design §6): one SQLite database, written only
 * by applying commands from the log (src/store/apply.ts). Live load is not
 * here: it is soft state in memory, rebuilt from the next reports.
 */
import { sqliteTable, integer, text, index, primaryKey, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Key/value facts about the state machine itself: lastApplied, nextHostId, … */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

/**
 * The Raft log (src/store/raft-storage.ts): entries appended by this node,
 * committed once a majority holds them. `data` is the command as JSON,
 * stamped by the leader (times, ids) before it entered; "" is a new
 * leader's no-op. `type` "conf" entries hold a membership change.
 */
export const log = sqliteTable("log", {
  idx: integer("idx").primaryKey(),
  term: integer("term").notNull(),
  type: text("type").notNull().default("normal"),
  data: text("data").notNull(),
});

export const hosts = sqliteTable(
  "hosts",
  {
    hostId: integer("host_id").primaryKey(),
    hostname: text("hostname").notNull(),
    ncpus: integer("ncpus").notNull(),
    memBytes: integer("mem_bytes").notNull(),
    gpus: integer("gpus").notNull().default(0),
    os: text("os"),
    version: text("version").notNull(),
    registeredAt: integer("registered_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    drained: integer("drained", { mode: "boolean" }).notNull().default(false),
    drainReason: text("drain_reason"),
    /**
     * Nonce of the host's current session: with the cluster secret it derives
     * the session key, so a restarted master (or a new leader) verifies the
     * agent's reports at once instead of dropping them until it registers again.
     */
    sessionNonce: text("session_nonce"),
    /** Where the agent's reports come from and announces go (registration source IP, its reportPort). */
    reportIp: text("report_ip"),
    reportPort: integer("report_port"),
    /** Fingerprint of the host key bound at the first keyed registration (trust on first use); null = not bound yet. */
    hostKey: text("host_key"),
    /** Raised by `host revoke-sessions` and `host reset-key`: session tokens of an older generation are refused. */
    sessionGen: integer("session_gen").notNull().default(0),
    /** The agent's `agent.labels` (JSON array of strings), for `submit --constraint`. */
    labels: text("labels"),
  },
  (t) => [uniqueIndex("hosts_hostname").on(t.hostname)],
);

export const tokens = sqliteTable("tokens", {
  jti: text("jti").primaryKey(),
  role: text("role").notNull(),
  subject: text("subject").notNull(),
  host: text("host"),
  createdBy: text("created_by").notNull(),
  issuedAt: integer("issued_at").notNull(),
  expiresAt: integer("expires_at"),
  revokedAt: integer("revoked_at"),
  revokedBy: text("revoked_by"),
});

/** Every state-changing request and every exec, refusals included (design §7). */
export const audit = sqliteTable(
  "audit",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** The log entry that wrote this row: applying an entry twice would show as a duplicate. */
    logIdx: integer("log_idx").notNull(),
    at: integer("at").notNull(),
    actor: text("actor").notNull(),
    role: text("role").notNull(),
    action: text("action").notNull(),
    target: text("target"),
    result: text("result").notNull(),
    detail: text("detail"),
    /**
     * The client's request id (x-lava-request-id) and what applying it
     * produced (the ApplyResult as JSON): a retry with the same id is
     * answered with it instead of being applied again (src/store/requests.ts).
     */
    requestId: text("request_id"),
    outcome: text("outcome"),
  },
  (t) => [index("audit_at").on(t.at), uniqueIndex("audit_log_idx").on(t.logIdx)],
);

/** Jobs (design §5). argv and env are JSON; times are ms since the epoch, stamped by the leader. */
export const jobs = sqliteTable(
  "jobs",
  {
    id: integer("id").primaryKey(),
    state: text("state").notNull(),
    argv: text("argv").notNull(),
    env: text("env"),
    cwd: text("cwd"),
    cpus: integer("cpus").notNull(),
    memBytes: integer("mem_bytes").notNull(),
    gpus: integer("gpus").notNull(),
    priority: integer("priority").notNull(),
    queue: text("queue").notNull(),
    timeoutSec: integer("timeout_sec"),
    retries: integer("retries").notNull(),
    /** Dispatches so far: attempt n is the n-th. */
    attempts: integer("attempts").notNull().default(0),
    hostId: integer("host_id"),
    hostname: text("hostname"),
    submittedAt: integer("submitted_at").notNull(),
    submittedBy: text("submitted_by").notNull(),
    dispatchedAt: integer("dispatched_at"),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    exitCode: integer("exit_code"),
    signal: text("signal"),
    reason: text("reason"),
    stdout: text("stdout"),
    stderr: text("stderr"),
    stdoutTruncated: integer("stdout_truncated", { mode: "boolean" }).notNull().default(false),
    stderrTruncated: integer("stderr_truncated", { mode: "boolean" }).notNull().default(false),
    /** Retry backoff: not dispatched before this time. */
    notBefore: integer("not_before").notNull().default(0),
    /** `submit --name`. */
    name: text("name"),
    /** The array this job is an element of (job_arrays.id), and its index there; null for a job of its own. */
    arrayId: integer("array_id"),
    arrayIndex: integer("array_index"),
    /** `submit -o` / `-e`: files on the host the output goes to (patterns %j, %a expanded at dispatch), instead of being captured. */
    stdoutPath: text("stdout_path"),
    stderrPath: text("stderr_path"),
    /** `--after-ok/--after-any/--after-not-ok`: JSON {afterOk?, afterAny?, afterNotOk?} of job ids. */
    deps: text("deps"),
    /** `--begin`: not dispatched before this time (ms since the epoch); 0 = at once. */
    beginAt: integer("begin_at").notNull().default(0),
    /** Who holds the job (`lava ctl hold`); null = not held. */
    heldBy: text("held_by"),
    /** Where it may run: JSON {hosts?, exclude?, constraint?, exclusive?}. */
    placement: text("placement"),
  },
  (t) => [index("jobs_state").on(t.state), index("jobs_array").on(t.arrayId), index("jobs_hostname").on(t.hostname), index("jobs_submitted_by").on(t.submittedBy)],
);

/**
 * Job arrays (`submit --array A-B[:STEP][%MAX]`): one id for the whole
 * array; its elements are rows of `jobs` with ids id+1 … id+count.
 */
export const jobArrays = sqliteTable("job_arrays", {
  id: integer("id").primaryKey(),
  /** As given: "1-1000%50". */
  spec: text("spec").notNull(),
  firstIndex: integer("first_index").notNull(),
  step: integer("step").notNull(),
  count: integer("count").notNull(),
  /** Most elements running at once; null = no limit. */
  maxRunning: integer("max_running"),
  name: text("name"),
  queue: text("queue").notNull(),
  argv: text("argv").notNull(),
  submittedAt: integer("submitted_at").notNull(),
  submittedBy: text("submitted_by").notNull(),
});

/** One row per attempt of a job: where and when it ran, how it ended, what it used (accounting). */
export const jobAttempts = sqliteTable(
  "job_attempts",
  {
    jobId: integer("job_id").notNull(),
    attempt: integer("attempt").notNull(),
    hostname: text("hostname").notNull(),
    dispatchedAt: integer("dispatched_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    /** DONE, EXIT, KILLED, LOST, or null while it runs. */
    state: text("state"),
    exitCode: integer("exit_code"),
    signal: text("signal"),
    reason: text("reason"),
    elapsedMs: integer("elapsed_ms"),
    cpuUserMs: integer("cpu_user_ms"),
    cpuSysMs: integer("cpu_sys_ms"),
    maxRssBytes: integer("max_rss_bytes"),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.attempt] }), index("job_attempts_finished").on(t.finishedAt)],
);

/** Every transition of every job, with its time and reason. */
export const jobHistory = sqliteTable(
  "job_history",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    jobId: integer("job_id").notNull(),
    logIdx: integer("log_idx").notNull(),
    at: integer("at").notNull(),
    state: text("state").notNull(),
    reason: text("reason"),
    hostname: text("hostname"),
    attempt: integer("attempt").notNull(),
  },
  (t) => [index("job_history_job").on(t.jobId)],
);

/**
 * Requests held for a second admin (docs/api.md "Approvals"): an exec or a
 * job submission that needs approval, until another admin approves or
 * denies it, or it expires. Through the log like every change, so a
 * failover keeps them. `request` is the held request as JSON (for a job,
 * the job.submit command to propose once approved).
 */
export const approvals = sqliteTable(
  "approvals",
  {
    id: integer("id").primaryKey(),
    /** exec | job */
    kind: text("kind").notNull(),
    /** Token subject of the admin who asked. */
    requester: text("requester").notNull(),
    requestedAt: integer("requested_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    /** One line for people: the command and its targets, or the job. */
    summary: text("summary").notNull(),
    request: text("request").notNull(),
    /** pending | approved | denied | expired */
    state: text("state").notNull(),
    decidedBy: text("decided_by"),
    decidedAt: integer("decided_at"),
    reason: text("reason"),
  },
  (t) => [index("approvals_state").on(t.state, t.expiresAt)],
);
