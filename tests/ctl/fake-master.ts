/**
 * Local HTTP servers that answer like the master API (docs/api.md), for
 * client and command tests. Each records the requests it saw.
 */
import type { Server } from "bun";
import type { HostPort } from "../../src/control/address.ts";

export interface Seen {
  method: string;
  path: string;
  authorization: string | null;
  body: unknown;
}

export interface Fake {
  server: Server<undefined>;
  addr: HostPort;
  /** "127.0.0.1:port" */
  text: string;
  seen: Seen[];
  stop(): Promise<void>;
}

/** `body` is the request's JSON body, already read (undefined for none). */
type Handler = (req: Request, url: URL, body: unknown) => Response | Promise<Response>;

export async function serve(handler: Handler): Promise<Fake> {
  const seen: Seen[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      const raw = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
      const body: unknown = raw ? JSON.parse(raw) : undefined;
      seen.push({ method: req.method, path: url.pathname + url.search, authorization: req.headers.get("authorization"), body });
      return handler(req, url, body);
    },
  });
  const addr = { host: "127.0.0.1", port: server.port! };
  return { server, addr, text: `127.0.0.1:${addr.port}`, seen, stop: () => server.stop(true) };
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

export const apiError = (status: number, error: string, detail: string) => json({ error, detail }, status);

/** A port nothing listens on: bind a server, note its port, stop it. */
export async function closedPort(): Promise<HostPort> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port!;
  await s.stop(true);
  return { host: "127.0.0.1", port };
}

/** A server that never answers until released (for timeouts), without sleeping a fixed time. */
export async function hanging(): Promise<Fake & { release(): void }> {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fake = await serve(async () => {
    await gate;
    return json([]);
  });
  return {
    ...fake,
    release,
    stop: async () => {
      release();
      await fake.stop();
    },
  };
}

export const LOAD_ROWS = [
  {
    host: "alpha",
    hostId: 1,
    status: "ok",
    ageMs: 1200,
    load1: 0.52,
    load5: 0.4,
    load15: 0.31,
    memUsed: 2 * 1024 ** 3,
    memFree: 7.8 * 1024 ** 3,
    swapUsed: 0,
    swapFree: 512 * 1024 ** 2,
    ncpus: 8,
    cpuUser: 10.5,
    cpuSys: 2.25,
    cpuIdle: 87.25,
    jobsRunning: 2,
    jobsPending: 1,
    procsTotal: 312,
    flags: 0,
    lossPct: 0.25,
    reportsLost: 1,
    reportsReceived: 399,
  },
  {
    host: "beta",
    hostId: 2,
    status: "unavail",
    ageMs: null,
    load1: null,
    load5: null,
    load15: null,
    memUsed: null,
    memFree: null,
    swapUsed: null,
    swapFree: null,
    ncpus: null,
    cpuUser: null,
    cpuSys: null,
    cpuIdle: null,
    jobsRunning: null,
    jobsPending: null,
    procsTotal: null,
    flags: null,
    lossPct: 0,
    reportsLost: 0,
    reportsReceived: 0,
  },
];

export const HOST_ROWS = [
  { host: "alpha", hostId: 1, status: "ok", ncpus: 8, memBytes: 16 * 1024 ** 3, gpus: 0, os: "linux 6.1", version: "0.1.0", connected: true, reportAddr: "127.0.0.1:40001", registeredAt: "2024-01-01T00:00:00.000Z", lastSeenAt: "2024-01-01T00:01:00.000Z" },
  { host: "beta", hostId: 2, status: "unavail", ncpus: 2, memBytes: 4 * 1024 ** 3, gpus: 1, os: null, version: "0.1.0", connected: false, reportAddr: null, registeredAt: "2024-01-01T00:00:00.000Z", lastSeenAt: null },
];

export const STATUS = {
  master: { version: "0.1.0", commit: "abc1234", nodeId: 1, uptimeMs: 125_000, insecure: false },
  ingest: {
    accepted: 1234,
    dropped: { short: 0, long: 0, bad_len: 0, unknown_op: 0, bad_flags: 0, non_finite: 0, negative: 0, bad_value: 0, bad_tag: 3, replay: 1, unknown_host: 0, unauthenticated: 0, unexpected_op: 0 },
    kernel: { rcvbufErrors: 0, inErrors: 0 },
  },
  hosts: { ok: 1, busy: 0, drained: 0, unavail: 1, unreach: 0, total: 2 },
  sessions: 1,
};

export const ADMIN_TOKEN = "admin-token-for-tests";

export const TOKEN_ROWS = [
  { jti: "j1", role: "admin", subject: "bootstrap", host: null, createdBy: null, issuedAt: "2026-11-22T21:04:09.000Z", expiresAt: null, revokedAt: null, revokedBy: null },
  { jti: "j2", role: "agent", subject: "rack1", host: "alpha", createdBy: "bootstrap", issuedAt: "2026-11-22T21:05:00.000Z", expiresAt: "2027-11-22T21:05:00.000Z", revokedAt: "2026-12-01T08:30:59.999Z", revokedBy: "bootstrap" },
];

/** A RESULT longer than the audit table shows. */
export const LONG_RESULT = "refused: no host named 'a-host-with-a-rather-long-name.example.org' is registered";

export const AUDIT_ROWS = [
  { id: 1, logIdx: 3, at: "2026-11-22T21:04:09.123Z", actor: "bootstrap", role: "admin", action: "token.create", target: "j2", result: "ok", detail: null },
  { id: 2, logIdx: 4, at: "2026-11-22T21:06:00.000Z", actor: "bootstrap", role: "admin", action: "host.drain", target: "a-host-with-a-rather-long-name.example.org", result: LONG_RESULT, detail: null },
  { id: 3, logIdx: 5, at: "2026-11-22T21:07:00.000Z", actor: "anonymous", role: "read", action: "host.remove", target: null, result: "refused: 401 unauthorized", detail: "this needs a token" },
];

const unknownHost = (name: string) => apiError(404, "unknown_host", `no host named '${name}' is registered`);

/** A job as GET /api/v1/jobs/:id answers it (the list leaves out the DETAIL_FIELDS). */
export type FakeJob = {
  id: number;
  state: string;
  host: string | null;
  exitCode: number | null;
  queue: string;
  priority: number;
  cpus: number;
  memBytes: number;
  gpus: number;
  argv: string[];
  submittedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  attempts: number;
  reason: string | null;
  waiting: string | null;
  stdout: string | null;
  stderr: string | null;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  env: Record<string, string> | null;
  cwd: string | null;
  timeoutSeconds: number | null;
  retries: number;
  history: { at: string; state: string; reason: string | null; host: string | null; attempt: number }[];
};

const DETAIL_FIELDS = ["stdout", "stderr", "stdoutTruncated", "stderrTruncated", "env", "cwd", "timeoutSeconds", "retries", "history"] as const;

export const listJob = (j: FakeJob): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...j };
  for (const k of DETAIL_FIELDS) delete out[k];
  return out;
};

const FINAL = new Set(["DONE", "EXIT", "KILLED", "LOST"]);
/** No host could ever fit more than this (the fake master's 400). */
export const FAKE_MAX_CPUS = 64;

/** Seeded jobs, ascending by id: one of each kind the views show. */
export function jobRows(): FakeJob[] {
  const base = { queue: "normal", priority: 0, cpus: 1, memBytes: 0, gpus: 0, env: null, cwd: null, timeoutSeconds: null, retries: 0, reason: null, waiting: null, stdoutTruncated: false, stderrTruncated: false };
  return [
    {
      ...base, id: 1, state: "DONE", host: "alpha", exitCode: 0, argv: ["echo", "hello world"], attempts: 1,
      submittedAt: "2026-11-22T21:04:05.000Z", startedAt: "2026-11-22T21:04:06.000Z", finishedAt: "2026-11-22T21:04:07.000Z",
      stdout: "hello world\n", stderr: "", env: { GREETING: "hi" }, cwd: "/tmp", timeoutSeconds: 60, retries: 2,
      history: [
        { at: "2026-11-22T21:04:05.000Z", state: "PEND", reason: "submitted", host: null, attempt: 0 },
        { at: "2026-11-22T21:04:06.000Z", state: "RUN", reason: null, host: "alpha", attempt: 1 },
        { at: "2026-11-22T21:04:07.000Z", state: "DONE", reason: "exit 0", host: "alpha", attempt: 1 },
      ],
    },
    {
      ...base, id: 2, state: "RUN", host: "alpha", exitCode: null, argv: ["sleep", "600"], attempts: 1, cpus: 2, memBytes: 512 * 1024 ** 2,
      submittedAt: "2026-11-22T21:05:00.000Z", startedAt: "2026-11-22T21:05:01.000Z", finishedAt: null, stdout: null, stderr: null,
      history: [{ at: "2026-11-22T21:05:00.000Z", state: "PEND", reason: "submitted", host: null, attempt: 0 }, { at: "2026-11-22T21:05:01.000Z", state: "RUN", reason: null, host: "alpha", attempt: 1 }],
    },
    {
      ...base, id: 3, state: "PEND", host: null, exitCode: null, queue: "big", priority: 5, cpus: 32, gpus: 1, attempts: 0,
      argv: ["python3", "-c", "import time; time.sleep(1)", "--with-a-rather-long-flag=and-a-long-value"],
      waiting: "needs 32 cpus; the hosts that have them are busy", submittedAt: "2026-11-22T21:06:00.000Z", startedAt: null, finishedAt: null, stdout: null, stderr: null,
      history: [{ at: "2026-11-22T21:06:00.000Z", state: "PEND", reason: "submitted", host: null, attempt: 0 }],
    },
    {
      ...base, id: 4, state: "EXIT", host: "beta", exitCode: 2, argv: ["make", "test"], attempts: 1, memBytes: 2 * 1024 ** 3,
      submittedAt: "2026-11-22T21:07:00.000Z", startedAt: "2026-11-22T21:07:01.000Z", finishedAt: "2026-11-22T21:07:30.000Z",
      stdout: "", stderr: "make: *** [test] Error 2\n", stderrTruncated: true, reason: "exit 2",
      history: [{ at: "2026-11-22T21:07:00.000Z", state: "PEND", reason: "submitted", host: null, attempt: 0 }, { at: "2026-11-22T21:07:01.000Z", state: "RUN", reason: null, host: "beta", attempt: 1 }, { at: "2026-11-22T21:07:30.000Z", state: "EXIT", reason: "exit 2", host: "beta", attempt: 1 }],
    },
  ];
}

/**
 * The fake master's jobs, in memory. A job may follow a script: each GET
 * /api/v1/jobs/:id answers its current state, then steps to the next one
 * (the last one stays). Submitted jobs step PEND → RUN → DONE, or → EXIT
 * with exit code 1 when the command is `false`.
 */
export class FakeJobs {
  readonly jobs = new Map<number, FakeJob>();
  private readonly scripts = new Map<number, string[]>();
  private nextId: number;

  constructor(seed: FakeJob[] = jobRows()) {
    for (const j of seed) this.jobs.set(j.id, j);
    this.nextId = Math.max(0, ...seed.map((j) => j.id)) + 1;
  }

  /** A job that walks through `states` on successive GETs of it. */
  add(states: string[], fields: Partial<FakeJob> = {}): FakeJob {
    const id = this.nextId++;
    const job: FakeJob = {
      id, state: states[0]!, host: null, exitCode: null, queue: "normal", priority: 0, cpus: 1, memBytes: 0, gpus: 0, argv: ["true"],
      submittedAt: new Date(Date.UTC(2026, 10, 23, 0, 0, id)).toISOString(), startedAt: null, finishedAt: null, attempts: 0, reason: null,
      waiting: null, stdout: null, stderr: null, stdoutTruncated: false, stderrTruncated: false, env: null, cwd: null, timeoutSeconds: null,
      retries: 0, history: [], ...fields,
    };
    this.jobs.set(id, job);
    this.scripts.set(id, states.slice(1));
    return job;
  }

  submit(body: Record<string, unknown>): FakeJob {
    const argv = body.argv as string[];
    const end = argv[0] === "false" ? "EXIT" : "DONE";
    return this.add(["PEND", "RUN", end], {
      argv,
      cpus: (body.cpus as number | undefined) ?? 1,
      memBytes: (body.memBytes as number | undefined) ?? 0,
      gpus: (body.gpus as number | undefined) ?? 0,
      priority: (body.priority as number | undefined) ?? 0,
      queue: (body.queue as string | undefined) ?? "normal",
      timeoutSeconds: (body.timeoutSeconds as number | undefined) ?? null,
      retries: (body.retries as number | undefined) ?? 0,
      env: (body.env as Record<string, string> | undefined) ?? null,
      cwd: (body.cwd as string | undefined) ?? null,
    });
  }

  /** The job's answer to GET, then one step along its script. */
  look(id: number): FakeJob | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    const answer = { ...job };
    const next = this.scripts.get(id)?.shift();
    if (next !== undefined) {
      job.state = next;
      if (next === "RUN") Object.assign(job, { host: "alpha", attempts: job.attempts + 1, startedAt: "2026-11-23T00:01:00.000Z" });
      if (FINAL.has(next)) Object.assign(job, { exitCode: next === "DONE" ? 0 : next === "EXIT" ? 1 : null, finishedAt: "2026-11-23T00:02:00.000Z" });
    }
    return answer;
  }

  list(url: URL): Record<string, unknown>[] {
    const states = url.searchParams.get("state")?.split(",");
    const host = url.searchParams.get("host");
    const queue = url.searchParams.get("queue");
    const limit = Number(url.searchParams.get("limit") ?? Infinity);
    return [...this.jobs.values()]
      .sort((a, b) => a.id - b.id)
      .filter((j) => (!states || states.includes(j.state)) && (host === null || j.host === host) && (queue === null || j.queue === queue))
      .slice(0, limit)
      .map(listJob);
  }

  cancel(id: number): Response {
    const job = this.jobs.get(id);
    if (!job) return unknownJob(id);
    if (FINAL.has(job.state)) return apiError(409, "job_ended", `job ${id} already ended ${job.state}`);
    job.state = "KILLED";
    job.reason = "cancelled";
    this.scripts.delete(id);
    return json({ id, state: "KILLED" });
  }
}

const unknownJob = (id: number | string) => apiError(404, "unknown_job", `no job ${id}`);

/** The /api/v1/jobs routes; null for other paths. Submit and cancel answer ADMIN_TOKEN only. */
function jobsRoute(jobs: FakeJobs, req: Request, url: URL, sent: unknown): Response | null {
  if (!url.pathname.startsWith("/api/v1/jobs")) return null;
  if (req.method === "POST") {
    const auth = req.headers.get("authorization");
    if (!auth) return apiError(401, "unauthorized", "this needs a token");
    if (auth !== `Bearer ${ADMIN_TOKEN}`) return apiError(403, "forbidden", "role read may not do this");
  }
  if (url.pathname === "/api/v1/jobs") {
    if (req.method === "GET") return json(jobs.list(url));
    if (req.method === "POST") {
      const body = (sent ?? {}) as Record<string, unknown>;
      if (!Array.isArray(body.argv) || body.argv.length === 0) return apiError(400, "bad_request", "argv must be a non-empty array");
      if (typeof body.cpus === "number" && body.cpus > FAKE_MAX_CPUS) {
        return apiError(400, "unsatisfiable", `no host could ever fit ${body.cpus} cpus (the largest has ${FAKE_MAX_CPUS})`);
      }
      return json(jobs.submit(body), 201);
    }
  }
  const m = /^\/api\/v1\/jobs\/([^/]+)(\/cancel)?$/.exec(url.pathname);
  if (m) {
    const id = Number(m[1]);
    if (!m[2] && req.method === "GET") {
      const job = jobs.look(id);
      return job ? json(job) : unknownJob(m[1]!);
    }
    if (m[2] && req.method === "POST") return jobs.cancel(id);
  }
  return null;
}

/**
 * A master with the query endpoints, and the admin ones (tokens, hosts,
 * audit, job submit and cancel) answering ADMIN_TOKEN only; `jobs` holds its jobs.
 */
export function masterApi(jobs: FakeJobs = new FakeJobs()): Handler {
  return async (req, url, body) => {
    const jobAnswer = jobsRoute(jobs, req, url, body);
    if (jobAnswer) return jobAnswer;
    const auth = req.headers.get("authorization");
    const route = `${req.method} ${url.pathname}`;
    if (route === "GET /api/v1/load") return json(LOAD_ROWS);
    if (route === "GET /api/v1/hosts") return json(HOST_ROWS);
    if (route === "GET /api/v1/status") return json(STATUS);
    const admin = /^\/api\/v1\/(tokens(\/|$)|audit$)/.test(url.pathname) || (url.pathname.startsWith("/api/v1/hosts/") && req.method !== "GET");
    if (admin) {
      if (!auth) return apiError(401, "unauthorized", "this needs a token");
      if (auth !== `Bearer ${ADMIN_TOKEN}`) return apiError(403, "forbidden", "role read may not do this");
    }
    if (route === "POST /api/v1/tokens") {
      return json({ token: "eyJ.minted.token", jti: "j1", role: "read", subject: "ci", expiresAt: "2030-01-01T00:00:00.000Z" }, 201);
    }
    if (route === "GET /api/v1/tokens") return json(TOKEN_ROWS);
    if (route === "GET /api/v1/audit") return json(AUDIT_ROWS);
    let m = /^\/api\/v1\/tokens\/([^/]+)$/.exec(url.pathname);
    if (m && req.method === "DELETE") return json({ jti: decodeURIComponent(m[1]!), revoked: true });
    m = /^\/api\/v1\/hosts\/([^/]+)(?:\/(drain|resume))?$/.exec(url.pathname);
    if (m) {
      const name = decodeURIComponent(m[1]!);
      const known = HOST_ROWS.some((h) => h.host === name);
      if (m[2] && req.method === "POST") return known ? json({ host: name, drained: m[2] === "drain" }) : unknownHost(name);
      if (!m[2] && req.method === "DELETE") return known ? json({ host: name, removed: true }) : unknownHost(name);
    }
    return apiError(404, "not_found", `no route ${req.method} ${url.pathname}`);
  };
}
