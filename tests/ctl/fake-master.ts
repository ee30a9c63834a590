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
      const raw = req.method === "POST" ? await req.text() : "";
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

/** A master with the query and token endpoints; /api/v1/tokens needs ADMIN_TOKEN. */
export function masterApi(): Handler {
  return async (req, url) => {
    const auth = req.headers.get("authorization");
    if (req.method === "GET" && url.pathname === "/api/v1/load") return json(LOAD_ROWS);
    if (req.method === "GET" && url.pathname === "/api/v1/hosts") return json(HOST_ROWS);
    if (req.method === "GET" && url.pathname === "/api/v1/status") return json(STATUS);
    if (req.method === "POST" && url.pathname === "/api/v1/tokens") {
      if (!auth) return apiError(401, "unauthorized", "this needs a token");
      if (auth !== `Bearer ${ADMIN_TOKEN}`) return apiError(403, "forbidden", "role read may not create tokens");
      return json({ token: "eyJ.minted.token", jti: "j1", role: "read", subject: "ci", expiresAt: "2030-01-01T00:00:00.000Z" });
    }
    return apiError(404, "not_found", `no route ${req.method} ${url.pathname}`);
  };
}
