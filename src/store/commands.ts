/**
 * Commands: every change to durable state is one of these, appended to the
 * log and applied in order (src/store/apply.ts). The proposer (the leader)
 * stamps everything that would differ between replicas — time `at`, ids —
 * into the command before it enters the log; apply reads no clock and draws
 * no random number.
 */
import * as v from "valibot";
import { HardwareSchema } from "../control/messages.ts";
import { RoleSchema } from "../control/roles.ts";
import { variantParser } from "../control/variant.ts";
import { ARRAY_ELEMENTS_MAX } from "../jobs/array.ts";

const name = v.pipe(v.string(), v.minLength(1), v.maxLength(255));
const text = v.pipe(v.string(), v.maxLength(4096));
const ms = v.pipe(v.number(), v.integer(), v.minValue(0));
/** A held request is an API body (≤ 1 MiB as read), as JSON text. */
export const APPROVAL_REQUEST_CHARS_MAX = 1 << 20;
/** Most hosts one host.remove-many entry names (bigger clean-ups take several entries). */
export const HOSTS_PER_REMOVE_MAX = 5000;


/** Most job ids one dependency list names. */
export const JOB_DEPS_MAX = 1000;
/** Most starts in one job.start entry. */
export const JOB_STARTS_MAX = 1000;

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const ids = v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(1))), v.maxLength(JOB_DEPS_MAX));

const DepsSchema = v.object({ afterOk: v.optional(ids), afterAny: v.optional(ids), afterNotOk: v.optional(ids) });
const hostList = v.pipe(v.array(name), v.maxLength(1000));
const PlacementSchema = v.object({
  hosts: v.optional(hostList),
  exclude: v.optional(hostList),
  constraint: v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(64))), v.maxLength(64))),
  exclusive: v.optional(v.boolean()),
});
export type JobDeps = v.InferOutput<typeof DepsSchema>;
export type JobPlacement = v.InferOutput<typeof PlacementSchema>;

/** Longest request id a command carries: the client's (docs/api.md, REQUEST_ID_MAX) and "#n" for a request's n-th command. */
export const COMMAND_REQUEST_ID_MAX = 160;

/**
 * Who asked: every command carries it, for the audit log; and the client's
 * request id when it gave one (applied once per actor and id: src/store/requests.ts).
 */
const by = { at: ms, actor: v.pipe(v.string(), v.maxLength(256)), actorRole: RoleSchema, requestId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(COMMAND_REQUEST_ID_MAX))) };

export const CommandSchema = v.variant("type", [
  v.object({ type: v.literal("noop"), at: ms }),
  v.object({
    type: v.literal("host.register"),
    ...by,
    hostname: name,
    hardware: HardwareSchema,
    version: v.pipe(v.string(), v.maxLength(100)),
    /** The new session (nonce → key with the cluster secret) and where its reports come from. */
    session: v.optional(v.object({ nonce: name, reportIp: v.pipe(v.string(), v.maxLength(64)), reportPort: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)) })),
    /** Fingerprint of the host key proven at this registration: bound if the host has none, refused if it has another. */
    hostKey: v.optional(v.pipe(v.string(), v.maxLength(100))),
    /** master.maxHosts when proposed: a new host beyond it is refused (checked in apply, so replicas agree). */
    maxHosts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  }),
  /** Forget a host's key binding (the next keyed registration binds again) and end its sessions. */
  v.object({ type: v.literal("host.reset-key"), ...by, hostname: name }),
  /** End a host's sessions: session tokens issued before are refused from now on. */
  v.object({ type: v.literal("host.revoke-sessions"), ...by, hostname: name }),
  /** Bulk clean-up (`ctl host remove --pattern/--unseen-for`): the names the leader selected, and how. */
  v.object({ type: v.literal("host.remove-many"), ...by, hostnames: v.pipe(v.array(name), v.minLength(1), v.maxLength(HOSTS_PER_REMOVE_MAX)), selector: text }),
  v.object({ type: v.literal("host.drain"), ...by, hostname: name, reason: v.optional(text) }),
  v.object({ type: v.literal("host.resume"), ...by, hostname: name }),
  v.object({ type: v.literal("host.remove"), ...by, hostname: name }),
  v.object({
    type: v.literal("token.create"),
    ...by,
    jti: name,
    role: RoleSchema,
    subject: name,
    host: v.optional(name),
    issuedAt: v.pipe(v.number(), v.integer()),
    expiresAt: v.optional(v.pipe(v.number(), v.integer())),
  }),
  v.object({ type: v.literal("token.revoke"), ...by, jti: name }),
  v.object({
    type: v.literal("job.submit"),
    ...by,
    argv: v.pipe(v.array(v.string()), v.minLength(1)),
    env: v.optional(v.record(v.string(), v.string())),
    cwd: v.optional(v.string()),
    cpus: v.pipe(v.number(), v.integer(), v.minValue(0)),
    memBytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
    gpus: v.pipe(v.number(), v.integer(), v.minValue(0)),
    priority: v.pipe(v.number(), v.integer()),
    queue: name,
    timeoutSec: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    retries: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100)),
    // Added for operators (docs/jobs.md); all optional, so older entries still parse.
    name: v.optional(name),
    stdoutPath: v.optional(v.pipe(v.string(), v.maxLength(4096))),
    stderrPath: v.optional(v.pipe(v.string(), v.maxLength(4096))),
    deps: v.optional(DepsSchema),
    beginAt: v.optional(ms),
    hold: v.optional(v.boolean()),
    placement: v.optional(PlacementSchema),
    /** An array: elements first, first+step, … (count of them), at most maxRunning running at once. */
    array: v.optional(
      v.object({
        spec: v.pipe(v.string(), v.maxLength(100)),
        first: v.pipe(v.number(), v.integer(), v.minValue(0)),
        step: v.pipe(v.number(), v.integer(), v.minValue(1)),
        count: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(ARRAY_ELEMENTS_MAX)),
        maxRunning: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
      }),
    ),
  }),
  /** Agents reported these attempts started (batched: one entry for the starts of one moment). */
  v.object({
    type: v.literal("job.start"),
    ...by,
    starts: v.pipe(v.array(v.object({ jobId: v.number(), attempt: v.number(), at: ms })), v.minLength(1), v.maxLength(JOB_STARTS_MAX)),
  }),
  /** Held jobs (and held pending array elements) are not dispatched until released. */
  v.object({ type: v.literal("job.hold"), ...by, jobId: v.number() }),
  v.object({ type: v.literal("job.release"), ...by, jobId: v.number() }),
  /** The scheduler placed a pending job: it is RUN on that host from now (attempt = attempts + 1). */
  v.object({ type: v.literal("job.dispatch"), ...by, jobId: v.number(), hostId: v.number(), hostname: name }),
  /** An agent reported the end of an attempt. Recorded once: a second report of the same attempt is refused as stale. */
  v.object({
    type: v.literal("job.finish"),
    ...by,
    jobId: v.number(),
    attempt: v.number(),
    state: v.picklist(["DONE", "EXIT", "KILLED"]),
    exitCode: v.nullable(v.number()),
    signal: v.nullable(v.string()),
    reason: v.nullable(v.string()),
    startedAt: v.nullable(v.number()),
    stdout: v.string(),
    stderr: v.string(),
    stdoutTruncated: v.boolean(),
    stderrTruncated: v.boolean(),
    /** Accounting of the attempt (the agent's rusage of the process group), when it ran. */
    elapsedMs: v.optional(v.nullable(count)),
    cpuUserMs: v.optional(v.nullable(count)),
    cpuSysMs: v.optional(v.nullable(count)),
    maxRssBytes: v.optional(v.nullable(count)),
  }),
  v.object({ type: v.literal("job.cancel"), ...by, jobId: v.number(), reason: text }),
  /** The attempt's host died: back to PEND after notBefore while retries remain, else LOST. */
  v.object({ type: v.literal("job.requeue"), ...by, jobId: v.number(), attempt: v.number(), reason: text, notBefore: ms }),
  /**
   * A request held for a second admin (exec, or a job to a queue that says
   * so): pending until another admin approves or denies it, or it expires.
   * `request` is what runs once approved, as JSON (docs/api.md "Approvals").
   */
  v.object({ type: v.literal("approval.request"), ...by, kind: v.picklist(["exec", "job"]), summary: text, request: v.pipe(v.string(), v.maxLength(APPROVAL_REQUEST_CHARS_MAX)), expiresAt: ms }),
  /** Approved or denied by an admin; never approved by its requester. */
  v.object({ type: v.literal("approval.decide"), ...by, id: v.pipe(v.number(), v.integer(), v.minValue(1)), approve: v.boolean(), reason: v.optional(text) }),
  /** Past its expiry without a decision (the leader proposes it). */
  v.object({ type: v.literal("approval.expire"), ...by, id: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
  /** A request that changed nothing but must be audited: refusals, exec requests and results. */
  v.object({ type: v.literal("audit.record"), ...by, action: name, target: v.optional(text), result: text, detail: v.optional(text) }),
]);

export type Command = v.InferOutput<typeof CommandSchema>;
export type CommandType = Command["type"];

/**
 * What applying a command produced. Refusals are results, not exceptions:
 * they are deterministic too. `replayOf`: the command repeated a request id
 * already applied at that entry; this is that first outcome, and nothing
 * was applied again.
 */
export type ApplyResult = ({ ok: true; value?: Record<string, unknown> } | { ok: false; error: string; detail: string }) & { replayOf?: number };

/** A command applied at log index `idx`, with what applying it produced. */
export interface Applied {
  idx: number;
  cmd: Command;
  result: ApplyResult;
}

const parseCommandData = variantParser(CommandSchema);

/** A log entry's command (every master, every entry it applies); throws a ValiError as v.parse would. */
export function parseCommand(json: string): Command {
  const r = parseCommandData(JSON.parse(json));
  if (!r.success) throw new v.ValiError(r.issues);
  return r.output;
}
