/**
 * A fake master for agent tests: a Bun.serve WebSocket server on 127.0.0.1
 * that speaks the handshake of docs/api.md, and a UDP socket that receives
 * the reports. Port 0 everywhere. Every message from the agent is kept in
 * `fromAgent`; `onMessage` lets a test answer job messages (acks). Plain
 * HTTP GETs are answered from `files` (what `update_agent` downloads) and
 * recorded in `httpRequests`.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerWebSocket } from "bun";
import { decodeDatagram, encodeAnnounce, OP, verifyTag, type Announce, type LoadReport } from "../../src/wire/index.ts";

export const HOST_ID = 7;
export const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);
export const REPORT_INTERVAL_MS = 250;

export interface Received {
  report: LoadReport;
  hostId: number;
  seq: number;
  tagOk: boolean;
  fromPort: number;
  at: number;
}

type Conn = ServerWebSocket<{ registered: boolean }>;

/** The master side of docs/api.md, just enough to drive an agent. */
export class FakeMaster {
  readonly registers: Record<string, unknown>[] = [];
  readonly fromAgent: Record<string, unknown>[] = [];
  readonly authHeaders: (string | null)[] = [];
  readonly reports: Received[] = [];
  readonly closes: { code: number; reason: string }[] = [];
  readonly sockets = new Set<Conn>();
  /** While set, upgrades are refused with 503 (as under admission control). */
  refuse = false;
  /** While set, `register` gets no answer. */
  silent = false;
  /** Bodies served to GET <path> (any other path: 404); a function builds the response itself (a slow stream, a status). */
  readonly files = new Map<string, Uint8Array | string | (() => Response)>();
  /** Every plain HTTP request (not /ws): its path and query, and its Authorization header. */
  readonly httpRequests: { path: string; auth: string | null }[] = [];
  /** Called with every message from a registered agent after it was recorded (not `register`). */
  onMessage: ((msg: Record<string, unknown>, ws: Conn) => void) | null = null;
  server!: ReturnType<typeof Bun.serve<{ registered: boolean }>>;
  udp!: Bun.udp.Socket<"buffer">;

  async start(): Promise<this> {
    this.udp = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data: (_s, buf, port) => {
          const d = decodeDatagram(buf);
          if (!d.ok || d.op !== OP.SLAVE_REPORT || !d.auth) return;
          this.reports.push({ report: d.report, hostId: d.auth.hostId, seq: d.auth.seq, tagOk: verifyTag(buf, KEY), fromPort: port, at: performance.now() });
        },
      },
    });
    this.server = Bun.serve<{ registered: boolean }>({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => {
        const url = new URL(req.url);
        if (url.pathname !== "/ws") {
          const path = url.pathname + url.search;
          this.httpRequests.push({ path, auth: req.headers.get("authorization") });
          const body = this.files.get(path);
          if (body === undefined) return new Response("not found", { status: 404 });
          return typeof body === "function" ? body() : new Response(body);
        }
        if (this.refuse) return new Response("busy", { status: 503, headers: { "Retry-After": "1" } });
        this.authHeaders.push(req.headers.get("authorization"));
        if (srv.upgrade(req, { data: { registered: false } })) return undefined;
        return new Response("upgrade failed", { status: 400 });
      },
      websocket: {
        open: (ws) => {
          this.sockets.add(ws);
        },
        close: (ws, code, reason) => {
          this.sockets.delete(ws);
          this.closes.push({ code, reason });
        },
        message: (ws, raw) => {
          const msg = JSON.parse(String(raw)) as Record<string, unknown>;
          this.fromAgent.push(msg);
          if (msg.type === "register") {
            this.registers.push(msg);
            if (this.silent) return;
            ws.data.registered = true;
            ws.send(JSON.stringify({ type: "registered", hostId: HOST_ID, sessionKey: Buffer.from(KEY).toString("base64"), reportIntervalMs: REPORT_INTERVAL_MS, udpPort: this.udp.port }));
          } else if (!ws.data.registered) {
            ws.send(JSON.stringify({ type: "error", error: "not_registered", detail: "send register first" }));
          } else {
            this.onMessage?.(msg, ws);
          }
        },
      },
    });
    return this;
  }

  get addr(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  /** Sends to every open agent connection. */
  broadcast(data: string | Uint8Array): void {
    for (const ws of this.sockets) ws.send(data);
  }

  announce(reportPort: number, a: Partial<Announce> = {}, key = KEY, seq = 1): void {
    const ann: Announce = { nodeId: 1, term: 1, reportIntervalMs: REPORT_INTERVAL_MS, leaderAddr: this.addr, windowBase: 0, activeHostIds: [HOST_ID], ...a };
    this.udp.send(encodeAnnounce(ann, { hostId: HOST_ID, seq, key }), reportPort, "127.0.0.1");
  }

  /** Sends one message as JSON to every open agent connection. */
  sendJson(msg: object): void {
    this.broadcast(JSON.stringify(msg));
  }

  /** Messages from the agent of one type, in arrival order. */
  ofType(type: string): Record<string, unknown>[] {
    return this.fromAgent.filter((x) => x.type === type);
  }

  /** Closes every agent connection (the agent reconnects). */
  dropConnections(code = 1001, reason = "going away"): void {
    for (const ws of this.sockets) ws.close(code, reason);
  }

  stop(): void {
    this.server.stop(true);
    this.udp.close();
  }
}

/** A fake /proc (loadavg, meminfo, stat) in a new temporary directory: 2 cpus, 8 GiB; the caller removes it. */
export function fakeProcRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), "lava-agent-proc-"));
  writeFileSync(join(dir, "loadavg"), "1.50 1.25 1.00 3/321 4242\n");
  writeFileSync(
    join(dir, "meminfo"),
    ["MemTotal:        8388608 kB", "MemFree:         1048576 kB", "MemAvailable:    4194304 kB", "Buffers:          102400 kB", "Cached:          2097152 kB", "SwapTotal:       2097152 kB", "SwapFree:        1048576 kB", ""].join("\n"),
  );
  writeFileSync(join(dir, "stat"), ["cpu  100 0 50 850 0 0 0 0 0 0", "cpu0 50 0 25 425 0 0 0 0 0 0", "cpu1 50 0 25 425 0 0 0 0 0 0", "procs_running 3", ""].join("\n"));
  return dir;
}
