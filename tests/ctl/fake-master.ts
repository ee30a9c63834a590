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

type Handler = (req: Request, url: URL) => Response | Promise<Response>;

export async function serve(handler: Handler): Promise<Fake> {
  const seen: Seen[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      const raw = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
      seen.push({ method: req.method, path: url.pathname + url.search, authorization: req.headers.get("authorization"), body: raw ? JSON.parse(raw) : undefined });
      return handler(req, url);
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

/** A master with the query endpoints, and the admin ones (tokens, hosts, audit) answering ADMIN_TOKEN only. */
export function masterApi(): Handler {
  return async (req, url) => {
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
