/**
 * Job routes (docs/api.md "Jobs", docs/jobs.md): submit, list, show, cancel,
 * hold and release, signal, live output, accounting, queues.
 *
 * Who sees what: any `read` token sees jobs, their requests and states;
 * the values of a job's environment only admins (readers get the names);
 * its output only admins and the subject that submitted it.
 */
import * as v from "valibot";
import { JOB_LIMITS, JOB_SIGNALS, PEEK_BYTES_MAX, type JobOutput } from "../../control/index.ts";
import { parseWhen } from "../../control/when.ts";
import {
  arraySummaryState,
  elementName,
  filterText,
  globMatch,
  matchesFilter,
  neverFits,
  outputPathProblem,
  parseArraySpec,
  parseElementRef,
  type TargetState,
} from "../../jobs/index.ts";
import { FINAL_STATES } from "../../jobs/types.ts";
import type { Claims } from "../../auth/index.ts";
import {
  accounting,
  arrayById,
  arrayCounts,
  arrayElement,
  attemptsOf,
  jobById,
  jobHistoryOf,
  jobsRanOn,
  JOB_DEPS_MAX,
  listArrays,
  listJobs,
  type ArrayRow,
  type JobFilter,
  type JobRow,
} from "../../store/index.ts";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { MasterConfig } from "../../config/index.ts";
import type { HostTable } from "../hosts/table.ts";
import type { JobManager } from "../jobs/manager.ts";
import type { TokenGate } from "../tokens.ts";
import { NO_CHANNEL } from "../requests/exec.ts";
import type { ChangeRoute } from "./change.ts";
import { HttpError, json } from "./errors.ts";
import { linearizable, parseBody, readJson, type Router } from "./router.ts";
import { holdJobForApproval, type ApprovalHoldDeps } from "./approval-hold.ts";
import type { AgentLink } from "./targets.ts";

const noNul = (what: string) => v.check((s: string) => !s.includes("\0"), `${what} must not contain a NUL character`);
const hostList = v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(255), noNul("host names"))), v.maxLength(1000));
const ids = v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(1))), v.maxLength(JOB_DEPS_MAX));
const path = (what: string) => v.pipe(v.string(), v.minLength(1), v.maxLength(4096), noNul(what));

const SubmitSchema = v.strictObject({
  argv: v.pipe(v.array(v.pipe(v.string(), v.maxLength(JOB_LIMITS.argBytes), noNul("argv"))), v.minLength(1, "argv must name a command"), v.maxLength(JOB_LIMITS.argvItems)),
  cpus: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1 << 16)), 1),
  memBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 53)), 0),
  gpus: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1024)), 0),
  priority: v.optional(v.pipe(v.number(), v.integer(), v.minValue(-1000), v.maxValue(1000)), 0),
  queue: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64)), "default"),
  timeoutSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(365 * 86400))),
  retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100)), 0),
  env: v.optional(
    v.pipe(
      v.record(v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names: letters, digits, _")), v.pipe(v.string(), v.maxLength(JOB_LIMITS.argBytes), noNul("env values"))),
      v.check((e) => Object.keys(e).length <= JOB_LIMITS.envItems, "too many env entries"),
    ),
  ),
  cwd: v.optional(path("cwd")),
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(255), v.regex(/^[^\0\n\r]*$/, "name: one line, no NUL"))),
  stdoutPath: v.optional(path("stdoutPath")),
  stderrPath: v.optional(path("stderrPath")),
  /** "A-B[:STEP][%MAX]". */
  array: v.optional(v.pipe(v.string(), v.maxLength(100))),
  afterOk: v.optional(ids),
  afterAny: v.optional(ids),
  afterNotOk: v.optional(ids),
  /** ms since the epoch, or ISO 8601. */
  begin: v.optional(v.union([v.pipe(v.number(), v.integer(), v.minValue(0)), v.pipe(v.string(), v.maxLength(64))])),
  hold: v.optional(v.boolean()),
  hosts: v.optional(hostList),
  exclude: v.optional(hostList),
  constraint: v.optional(v.pipe(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, "labels: letters, digits, '.', '_', ':', '-'"))), v.maxLength(64))),
  exclusive: v.optional(v.boolean()),
});
type SubmitBody = v.InferOutput<typeof SubmitSchema>;

const SignalSchema = v.strictObject({ signal: v.picklist(JOB_SIGNALS, `signal: one of ${JOB_SIGNALS.join(", ")}`) });

/** A clock a little off between ctl and master must not refuse "--begin now". */
const BEGIN_SKEW_MS = 60_000;
/** How long a peek waits for the agent. */
const PEEK_TIMEOUT_MS = 10_000;

/** Ended: what the record says is final. */
const FINAL: ReadonlySet<string> = FINAL_STATES;
const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

type ListedJob = Omit<JobRow, "stdout" | "stderr">;

/** Wall time of the current (or last) attempt: to now while it runs. */
function elapsedOf(r: ListedJob, nowMs: number, startedAt: number | null): number | null {
  if (startedAt === null) return null;
  const end = FINAL.has(r.state) ? r.finishedAt : r.state === "RUN" ? nowMs : null;
  return end === null ? null : Math.max(0, end - startedAt);
}

export interface JobRouteDeps extends ApprovalHoldDeps {
  gate: Pick<TokenGate, "check">;
  db: BunSQLiteDatabase;
  barrier: () => Promise<void>;
  /** The live jobs, their queues and why they wait (the job manager). */
  jobs: Pick<JobManager, "active" | "waitingFor" | "queues" | "pendingByQueue" | "schedHosts">;
  hosts: HostTable;
  agents: AgentLink;
  /** master.queues: who may submit where, which need approval. */
  queues: MasterConfig["queues"];
}

/** What a job's view needs beyond its row. */
type JobViewDeps = { jobs: Pick<JobManager, "waitingFor">; nowMs: () => number };

export function jobView(deps: JobViewDeps, r: ListedJob) {
  // As recorded: the start is its own entry (written within 25 ms of the agent's report), so what this says survives a restart.
  const startedAt = r.startedAt;
  return {
    id: r.id,
    state: r.state,
    host: r.hostname,
    exitCode: r.exitCode,
    name: r.name,
    user: r.submittedBy,
    queue: r.queue,
    priority: r.priority,
    cpus: r.cpus,
    memBytes: r.memBytes,
    gpus: r.gpus,
    argv: JSON.parse(r.argv) as string[],
    submittedAt: iso(r.submittedAt),
    submittedBy: r.submittedBy,
    dispatchedAt: iso(r.dispatchedAt),
    startedAt: iso(startedAt),
    finishedAt: iso(r.finishedAt),
    elapsedMs: elapsedOf(r, deps.nowMs(), startedAt),
    attempts: r.attempts,
    signal: r.signal,
    reason: r.reason,
    waiting: r.state === "PEND" ? (deps.jobs.waitingFor(r.id) ?? "waiting for the next scheduling round") : null,
    ...(r.arrayId !== null ? { arrayId: r.arrayId, arrayIndex: r.arrayIndex, element: elementName(r.arrayId, r.arrayIndex ?? 0) } : {}),
    heldBy: r.heldBy,
    beginAt: r.beginAt > 0 ? iso(r.beginAt) : null,
    deps: r.deps ? JSON.parse(r.deps) : null,
    placement: r.placement ? JSON.parse(r.placement) : null,
    stdoutPath: r.stdoutPath,
    stderrPath: r.stderrPath,
  };
}

/** An array as one row: its elements' states summed up (`lava ctl jobs` folds arrays). */
export function arrayView(a: ArrayRow, counts: Record<string, number>) {
  const state = arraySummaryState(counts as Record<TargetState, number>);
  return {
    id: a.id,
    array: true,
    spec: a.spec,
    count: a.count,
    maxRunning: a.maxRunning,
    state,
    counts,
    name: a.name,
    user: a.submittedBy,
    submittedBy: a.submittedBy,
    queue: a.queue,
    argv: JSON.parse(a.argv) as string[],
    submittedAt: iso(a.submittedAt),
    host: null,
    exitCode: null,
    waiting: state === "PEND" ? `${counts.PEND} element(s) pending; see lava ctl jobs --array ${a.id}` : null,
  };
}

/** Whether the caller may see a job's output: admins, and the subject that submitted it. */
const mayReadOutput = (caller: Claims, submittedBy: string) => caller.role === "admin" || caller.sub === submittedBy;

export function jobRoutes(r: Router, deps: JobRouteDeps, change: ChangeRoute): void {
  change("POST", "/api/v1/jobs", "job.submit", () => null, async (req, _p, _url, c) => {
    const body = parseBody(SubmitSchema, await readJson(req));
    const cmd = checkSubmit(deps, body, c.caller.sub);
    // A queue with requireApproval holds the job for a second admin (approval-hold.ts).
    const held = await holdJobForApproval(deps, c, cmd);
    if (held) return held;
    const applied = await c.commit(cmd);
    const v0 = applied.result.ok ? applied.result.value! : {};
    const id = v0.jobId as number;
    if (v0.array) {
      const a = arrayById(deps.db, id)!;
      return json({ ...arrayView(a, arrayCounts(deps.db, [id]).get(id)!), ids: { first: id + 1, last: id + a.count } }, 201);
    }
    return json(jobView(deps, jobById(deps.db, id)!), 201);
  });

  r.on("GET", "/api/v1/jobs", linearizable(deps.barrier, (req, _p, url) => {
    deps.gate.check(req, url, "read");
    const q = url.searchParams;
    const states = q.get("state")?.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
    const limitRaw = q.get("limit");
    const limit = limitRaw === null ? 1000 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new HttpError(400, "bad_request", `limit: a whole number from 1 to 100000; got '${limitRaw}'`);
    const host = q.get("host");
    if (host && !deps.hosts.byHostname(host) && !jobsRanOn(deps.db, host)) {
      throw new HttpError(404, "unknown_host", `no host named '${host}' is registered or ran jobs (see 'lava ctl hosts')`);
    }
    const f: JobFilter = { ...(states ? { states } : {}), ...(host ? { hostname: host } : {}), ...(q.get("queue") ? { queue: q.get("queue")! } : {}), ...(q.get("user") ? { user: q.get("user")! } : {}), limit };
    const arrayRaw = q.get("array");
    if (arrayRaw !== null) {
      const id = Number(arrayRaw);
      if (!Number.isInteger(id) || id < 1 || !arrayById(deps.db, id)) throw new HttpError(404, "unknown_job", `no array ${arrayRaw} (see 'lava ctl jobs')`);
      return json(listJobs(deps.db, { ...f, arrayId: id }).map((row) => jobView(deps, row)));
    }
    // Elements too (`?elements=1`): every job, no folding.
    if (q.get("elements") === "1") return json(listJobs(deps.db, f).map((row) => jobView(deps, row)));
    const singles = listJobs(deps.db, { ...f, noElements: true }).map((row) => jobView(deps, row));
    const arrays = listArrays(deps.db, f);
    if (arrays.length === 0) return json(singles);
    const counts = arrayCounts(deps.db, arrays.map((a) => a.id));
    const folded = arrays.map((a) => arrayView(a, counts.get(a.id)!));
    return json([...singles, ...folded].sort((a, b) => a.id - b.id).slice(-limit));
  }));

  /** A job by id, or an array element by "ID[INDEX]"; an array id gives the array. */
  const resolve = (raw: string | undefined): { job: JobRow } | { array: ArrayRow } => {
    const text = (raw ?? "").trim();
    const el = parseElementRef(text);
    if (el) {
      const row = arrayElement(deps.db, el.arrayId, el.index);
      if (!row) throw new HttpError(404, "unknown_job", `no element ${el.index} in array ${el.arrayId} (see 'lava ctl jobs --array ${el.arrayId}')`);
      return { job: row };
    }
    const id = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
    const row = Number.isSafeInteger(id) && id > 0 ? jobById(deps.db, id) : undefined;
    if (row) return { job: row };
    const a = Number.isSafeInteger(id) && id > 0 ? arrayById(deps.db, id) : undefined;
    if (a) return { array: a };
    throw new HttpError(404, "unknown_job", `no job ${raw} (see 'lava ctl jobs')`);
  };

  r.on("GET", "/api/v1/jobs/:id", linearizable(deps.barrier, (req, p, url) => {
    const caller = deps.gate.check(req, url, "read");
    const found = resolve(p.id);
    if ("array" in found) {
      const a = found.array;
      return json({ ...arrayView(a, arrayCounts(deps.db, [a.id]).get(a.id)!), history: jobHistoryOf(deps.db, a.id).map(historyView) });
    }
    const row = found.job;
    const output = mayReadOutput(caller, row.submittedBy);
    const env = row.env ? (JSON.parse(row.env) as Record<string, string>) : {};
    const attempts = attemptsOf(deps.db, row.id).map((a) => ({
      attempt: a.attempt,
      host: a.hostname,
      dispatchedAt: iso(a.dispatchedAt),
      startedAt: iso(a.startedAt),
      finishedAt: iso(a.finishedAt),
      state: a.state,
      exitCode: a.exitCode,
      signal: a.signal,
      reason: a.reason,
      elapsedMs: a.elapsedMs ?? (a.startedAt !== null && a.finishedAt !== null ? a.finishedAt - a.startedAt : null),
      cpuUserMs: a.cpuUserMs,
      cpuSysMs: a.cpuSysMs,
      maxRssBytes: a.maxRssBytes,
    }));
    const last = attempts.at(-1);
    const arrayHistory = row.arrayId !== null ? jobHistoryOf(deps.db, row.arrayId).slice(0, 1) : [];
    return json({
      ...jobView(deps, row),
      ...(last && last.elapsedMs !== null && FINAL.has(row.state) ? { elapsedMs: last.elapsedMs } : {}),
      cpuUserMs: last?.cpuUserMs ?? null,
      cpuSysMs: last?.cpuSysMs ?? null,
      maxRssBytes: last?.maxRssBytes ?? null,
      attemptRecords: attempts,
      stdout: output ? (row.stdout ?? "") : null,
      stderr: output ? (row.stderr ?? "") : null,
      stdoutTruncated: row.stdoutTruncated,
      stderrTruncated: row.stderrTruncated,
      ...(output ? {} : { outputHidden: "only admins and the job's submitter see its output" }),
      // Values only to admins: an environment often carries credentials.
      env: caller.role === "admin" ? env : Object.fromEntries(Object.keys(env).map((k) => [k, null])),
      ...(caller.role === "admin" ? {} : { envHidden: true }),
      cwd: row.cwd,
      timeoutSeconds: row.timeoutSec,
      retries: row.retries,
      history: [...arrayHistory, ...jobHistoryOf(deps.db, row.id)].map(historyView),
    });
  }));

  r.on("GET", "/api/v1/jobs/:id/output", linearizable(deps.barrier, async (req, p, url) => {
    const caller = deps.gate.check(req, url, "read");
    const found = resolve(p.id);
    if ("array" in found) throw new HttpError(400, "bad_request", `${found.array.id} is an array: peek at one element (${found.array.id}[INDEX])`);
    const row = found.job;
    if (!mayReadOutput(caller, row.submittedBy)) throw new HttpError(403, "forbidden", `only admins and the job's submitter (${row.submittedBy}) see its output`);
    const from = (name: string) => {
      const raw = url.searchParams.get(name);
      const n = raw === null ? 0 : Number(raw);
      if (!Number.isSafeInteger(n) || n < 0) throw new HttpError(400, "bad_request", `${name}: a byte offset (whole number ≥ 0); got '${raw}'`);
      return n;
    };
    const stdoutFrom = from("stdoutFrom");
    const stderrFrom = from("stderrFrom");
    const base = { id: row.id, state: row.state, attempt: row.attempts, host: row.hostname };
    const live = deps.jobs.active.get(row.id);
    if (FINAL.has(row.state) || !live || live.state !== "RUN" || live.hostId === null) {
      // Ended (what was recorded), or not running yet.
      const slice = (text: string | null, at: number) => {
        const b = Buffer.from(text ?? "");
        return { text: b.subarray(Math.min(at, b.length)).toString("utf8"), total: b.length };
      };
      const o = slice(row.stdout, stdoutFrom);
      const e = slice(row.stderr, stderrFrom);
      return json({ ...base, running: false, ended: FINAL.has(row.state), stdout: o.text, stderr: e.text, stdoutFrom: Math.min(stdoutFrom, o.total), stderrFrom: Math.min(stderrFrom, e.total), stdoutTotal: o.total, stderrTotal: e.total, stdoutPath: row.stdoutPath, stderrPath: row.stderrPath });
    }
    const hostId = live.hostId;
    const out = await new Promise<JobOutput>((resolveOut, reject) => {
      const opened = deps.agents.requests.openRequest(hostId, "peek", PEEK_TIMEOUT_MS, {
        onMessage: (m) => (m.type === "job_output" ? resolveOut(m) : undefined),
        onFail: (_reason, detail) => reject(new HttpError(409, "no_answer", `${live.hostname}: ${detail}`)),
      });
      if (!opened.ok) return reject(new HttpError(503, "busy", opened.detail));
      if (!deps.agents.send(hostId, { type: "peek_job", requestId: opened.requestId, jobId: row.id, attempt: live.attempts, stdoutFrom, stderrFrom, maxBytes: PEEK_BYTES_MAX })) {
        deps.agents.requests.cancel(opened.requestId);
        reject(new HttpError(409, "no_channel", `${live.hostname}: ${NO_CHANNEL}; its output cannot be read now`));
      }
    });
    return json({ ...base, running: out.running, ended: false, stdout: out.stdout, stderr: out.stderr, stdoutFrom: out.stdoutFrom, stderrFrom: out.stderrFrom, stdoutTotal: out.stdoutTotal, stderrTotal: out.stderrTotal, stdoutPath: row.stdoutPath, stderrPath: row.stderrPath, ...(out.error ? { error: out.error } : {}) });
  }));

  change("POST", "/api/v1/jobs/:id/cancel", "job.cancel", (p) => p.id ?? null, async (_req, p, _url, c) => {
    const found = resolve(p.id);
    const id = "array" in found ? found.array.id : found.job.id;
    // No check of the state here: the state machine refuses a job that has ended (409), and a retry
    // of a cancel that was applied (x-lava-request-id) must reach it to get the first outcome back.
    // The manager sends kill_job for what ran once this is applied.
    const applied = await c.commit({ type: "job.cancel", jobId: id, reason: `cancelled by ${c.caller.sub}` });
    const v0 = applied.result.ok ? applied.result.value! : {};
    if (v0.array) return json({ id, array: true, state: "KILLED", cancelled: (v0.cancelled as number[]).length });
    return json({ id, state: "KILLED" });
  });

  for (const action of ["hold", "release"] as const) {
    change("POST", `/api/v1/jobs/:id/${action}`, `job.${action}`, (p) => p.id ?? null, async (_req, p, _url, c) => {
      const found = resolve(p.id);
      const id = "array" in found ? found.array.id : found.job.id;
      const applied = await c.commit({ type: `job.${action}`, jobId: id });
      const v0 = applied.result.ok ? applied.result.value! : {};
      return json({ id, [action === "hold" ? "held" : "released"]: (v0.jobIds as number[] | undefined)?.length ?? 0 });
    });
  }

  change("POST", "/api/v1/jobs/:id/signal", "job.signal", (p) => p.id ?? null, async (req, p, _url, c) => {
    const { signal } = parseBody(SignalSchema, await readJson(req));
    const found = resolve(p.id);
    const rows = "array" in found ? listJobs(deps.db, { arrayId: found.array.id, states: ["RUN"], limit: 100_000 }) : [found.job];
    const targets = rows.map((row) => deps.jobs.active.get(row.id)).filter((j) => j !== undefined && j.state === "RUN" && j.hostId !== null);
    const id = "array" in found ? found.array.id : found.job.id;
    if (targets.length === 0) throw new HttpError(409, "conflict", `job ${p.id} is not running: only a running job can be sent a signal`);
    let sent = 0;
    for (const j of targets) if (deps.agents.send(j!.hostId!, { type: "signal_job", jobId: j!.id, attempt: j!.attempts, signal })) sent++;
    await c.commit({ type: "audit.record", action: "job.signal", target: String(id), result: sent === targets.length ? "ok" : `sent to ${sent} of ${targets.length}`, detail: signal });
    if (sent === 0) throw new HttpError(409, "no_channel", `the job's host has no control channel now; ${signal} was not sent`);
    return json({ id, signal, sent });
  });

  r.on("GET", "/api/v1/acct", linearizable(deps.barrier, (req, _p, url) => {
    deps.gate.check(req, url, "read");
    const raw = url.searchParams.get("since") ?? "1d";
    const sinceMs = parseWhen(raw, deps.nowMs());
    if (sinceMs === null) throw new HttpError(400, "bad_request", `since: ISO 8601, epoch ms, or a duration back from now like 1d, 12h; got '${raw}'`);
    const user = url.searchParams.get("user") ?? undefined;
    const queue = url.searchParams.get("queue") ?? undefined;
    return json({ since: iso(sinceMs), rows: accounting(deps.db, { sinceMs, ...(user ? { user } : {}), ...(queue ? { queue } : {}) }) });
  }));

  r.on("GET", "/api/v1/queues", (req, _p, url) => {
    deps.gate.check(req, url, "read");
    const specs = deps.jobs.queues();
    const pending = deps.jobs.pendingByQueue();
    const hosts = deps.jobs.schedHosts();
    const defs: Record<string, { users: string[] }> = { default: { users: [] }, ...deps.queues };
    return json(
      [...specs.values()].map((q) => {
        const pool = hosts.filter((h) => q.hosts.length === 0 || q.hosts.some((p) => globMatch(p, h.hostname)));
        return {
          name: q.name,
          priority: q.priority,
          maxRunning: q.maxRunning ?? null,
          hosts: q.hosts,
          users: defs[q.name]?.users ?? [],
          pending: pending.get(q.name) ?? 0,
          running: q.running,
          hostsTotal: pool.length,
          hostsOpen: pool.filter((h) => h.state === "ok" && h.closed === undefined).length,
          cpusTotal: pool.reduce((s, h) => s + h.ncpus, 0),
        };
      }),
    );
  });
}

function historyView(h: { at: number; state: string; reason: string | null; hostname: string | null; attempt: number }) {
  return { at: iso(h.at), state: h.state, reason: h.reason, host: h.hostname, attempt: h.attempt };
}

/**
 * A submission checked against the cluster as it is: every refusal here is
 * a 400 with the reason, before anything is written (nothing half-created).
 */
function checkSubmit(cluster: JobRouteDeps, body: SubmitBody, subject: string) {
  const bad = (detail: string, code = "bad_request") => new HttpError(400, code, detail);
  const queues = cluster.jobs.queues();
  const queue = queues.get(body.queue);
  if (!queue) throw bad(`no queue named '${body.queue}' (configured: ${[...queues.keys()].join(", ")})`, "unknown_queue");
  const users = cluster.queues[body.queue]?.users ?? [];
  if (users.length > 0 && !users.includes(subject)) throw new HttpError(403, "forbidden", `queue '${body.queue}' takes jobs from ${users.join(", ")} only, not '${subject}'`);
  const hosts = cluster.jobs.schedHosts();
  // Placement: named hosts must exist, labels must be on some host.
  for (const h of body.hosts ?? []) {
    const glob = h.includes("*") || h.includes("?");
    if (glob ? !hosts.some((x) => globMatch(h, x.hostname)) : !hosts.some((x) => x.hostname === h)) throw bad(`--hosts ${h}: no registered host ${glob ? "matches it" : "has that name"} (see 'lava ctl hosts')`, "unknown_host");
  }
  const known = new Set(hosts.flatMap((h) => h.labels ?? []));
  for (const l of body.constraint ?? []) if (!known.has(l)) throw bad(`--constraint ${l}: no registered host has that label (agent.labels); known labels: ${[...known].sort().join(", ") || "none"}`, "unknown_label");
  const placement = { ...(body.hosts?.length ? { hosts: body.hosts } : {}), ...(body.exclude?.length ? { exclude: body.exclude } : {}), ...(body.constraint?.length ? { constraint: body.constraint } : {}), ...(body.exclusive ? { exclusive: true } : {}) };
  const filtered = Object.keys(placement).length > 0;
  const pool = filtered ? hosts.filter((h) => matchesFilter(h, placement)) : hosts;
  if (filtered && pool.length === 0) throw bad(`no registered host matches ${filterText(placement)}`, "never_fits");
  const never = neverFits({ cpus: body.cpus, memBytes: body.memBytes, gpus: body.gpus, queue: body.queue }, pool, queue);
  if (never) throw bad(filtered ? `${never} (of the hosts matching ${filterText(placement)})` : never, "never_fits");
  // Arrays.
  let array: { spec: string; first: number; step: number; count: number; maxRunning?: number } | undefined;
  if (body.array !== undefined) {
    const spec = parseArraySpec(body.array);
    if (typeof spec === "string") throw bad(spec);
    array = { spec: spec.spec, first: spec.first, step: spec.step, count: spec.count, ...(spec.maxRunning !== undefined ? { maxRunning: spec.maxRunning } : {}) };
  }
  // Output files.
  for (const [key, flag] of [["stdoutPath", "-o"], ["stderrPath", "-e"]] as const) {
    const pth = body[key];
    if (pth === undefined) continue;
    const problem = outputPathProblem(pth, flag);
    if (problem) throw bad(problem);
  }
  // Dependencies must name jobs or arrays that exist (so no cycle can be made).
  const deps = { ...(body.afterOk?.length ? { afterOk: body.afterOk } : {}), ...(body.afterAny?.length ? { afterAny: body.afterAny } : {}), ...(body.afterNotOk?.length ? { afterNotOk: body.afterNotOk } : {}) };
  for (const [key, flag] of [["afterOk", "--after-ok"], ["afterAny", "--after-any"], ["afterNotOk", "--after-not-ok"]] as const) {
    for (const id of deps[key] ?? []) {
      if (!jobById(cluster.db, id) && !arrayById(cluster.db, id)) throw bad(`${flag} ${id}: there is no job ${id}`, "unknown_job");
    }
  }
  // Begin time.
  let beginAt: number | undefined;
  if (body.begin !== undefined) {
    const t = typeof body.begin === "number" ? body.begin : Date.parse(body.begin);
    if (!Number.isFinite(t)) throw bad(`begin: ms since the epoch or ISO 8601; got '${body.begin}'`);
    if (t < cluster.nowMs() - BEGIN_SKEW_MS) throw bad(`--begin ${new Date(t).toISOString()} is in the past (now ${new Date(cluster.nowMs()).toISOString()})`);
    beginAt = t;
  }
  return {
    type: "job.submit" as const,
    argv: body.argv,
    cpus: body.cpus,
    memBytes: body.memBytes,
    gpus: body.gpus,
    priority: body.priority,
    queue: body.queue,
    retries: body.retries,
    ...(body.timeoutSeconds ? { timeoutSec: body.timeoutSeconds } : {}),
    ...(body.env ? { env: body.env } : {}),
    ...(body.cwd ? { cwd: body.cwd } : {}),
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...(body.stdoutPath !== undefined ? { stdoutPath: body.stdoutPath } : {}),
    ...(body.stderrPath !== undefined ? { stderrPath: body.stderrPath } : {}),
    ...(Object.keys(deps).length > 0 ? { deps } : {}),
    ...(beginAt !== undefined && beginAt > cluster.nowMs() ? { beginAt } : {}),
    ...(body.hold ? { hold: true } : {}),
    ...(filtered ? { placement } : {}),
    ...(array ? { array } : {}),
  };
}
