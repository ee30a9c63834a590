/**
 * For master-level tests of requests to agents: a master started in this
 * process (port 0, temp data dir), and "agents" that are raw WebSocket
 * clients written from docs/api.md, so these tests do not depend on the
 * agent's code and can send what a real agent never would.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { MasterSchema } from "../../src/config/schema.ts";
import { configureLogging } from "../../src/log/index.ts";
import { startMaster, type MasterHandle } from "../../src/master/server.ts";
import { answerOf } from "../helpers/http.ts";
import { waitFor } from "../helpers/wait.ts";
import { newHostKey, signedRegister } from "../helpers/host-key.ts";
import type { HostKey } from "../../src/auth/index.ts";

export type Msg = Record<string, unknown>;

export class LocalMaster {
  private constructor(
    readonly handle: MasterHandle,
    readonly dataDir: string,
  ) {}

  static async start(config: Record<string, unknown> = {}): Promise<LocalMaster> {
    configureLogging({ level: (process.env.LAVA_TEST_LOG as "debug" | undefined) ?? "silent", format: "pretty" });
    const dataDir = mkdtempSync(join(tmpdir(), "lava-remote-"));
    const cfg = v.parse(MasterSchema, { dataDir, bind: "127.0.0.1", httpPort: 0, udpPort: 0, ...config });
    try {
      return new LocalMaster(await startMaster(cfg), dataDir);
    } catch (e) {
      rmSync(dataDir, { recursive: true, force: true });
      throw e;
    }
  }

  get addr(): string {
    return `127.0.0.1:${this.handle.httpPort}`;
  }
  get adminToken(): string {
    return readFileSync(join(this.dataDir, "admin.token"), "utf8").trim();
  }

  fetch(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
    const token = init.token === undefined ? this.adminToken : init.token;
    const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
    if (token) headers.authorization = `Bearer ${token}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    return fetch(`http://${this.addr}${path}`, { ...init, headers });
  }

  async json<T = unknown>(path: string, init: RequestInit & { token?: string | null } = {}): Promise<{ status: number; body: T }> {
    const res = await this.fetch(path, init);
    return { status: res.status, body: (await answerOf(res)) as T };
  }

  /** POSTs an exec and returns every NDJSON line of the answer (and the status). */
  async exec(body: unknown): Promise<{ status: number; lines: Msg[] }> {
    const res = await this.fetch("/api/v1/exec", { method: "POST", body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== 200) return { status: res.status, lines: [JSON.parse(text) as Msg] };
    return { status: res.status, lines: text.trim().split("\n").map((l) => JSON.parse(l) as Msg) };
  }

  async audit(action: string): Promise<Msg[]> {
    return (await this.json<Msg[]>(`/api/v1/audit?action=${action}`)).body;
  }

  async stop(): Promise<void> {
    await this.handle.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export class RawAgent {
  readonly inbox: Msg[] = [];
  private waiters: (() => void)[] = [];
  hostId = 0;
  closed = false;
  closeCode = 0;
  closeReason = "";
  /** Answers requests as they come, if set (each message is still kept in the inbox). */
  onMessage: ((m: Msg) => void) | null = null;

  private constructor(
    readonly ws: WebSocket,
    readonly hostname: string,
  ) {
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data)) as Msg;
      this.inbox.push(m);
      if (m.type === "ping") this.send({ type: "pong", ts: m.ts });
      this.onMessage?.(m);
      for (const w of this.waiters.splice(0)) w();
    };
    ws.onclose = (e) => {
      this.closed = true;
      this.closeCode = e.code;
      this.closeReason = e.reason;
      for (const w of this.waiters.splice(0)) w();
    };
  }

  private static readonly keys = new Map<string, HostKey>();
  /** The host key of `hostname` in this test process: the same name always comes with the same key, like a real host. */
  static async keyFor(hostname: string): Promise<HostKey> {
    let k = RawAgent.keys.get(hostname);
    if (!k) RawAgent.keys.set(hostname, (k = await newHostKey()));
    return k;
  }

  /** The `registered` answer (session token and all). */
  registered: Msg = {};

  /** Opens a connection with `token` (null: none), without registering. */
  static async open(addr: string, token: string | null, hostname: string): Promise<RawAgent> {
    const ws = new WebSocket(`ws://${addr}/ws`, (token ? { headers: { authorization: `Bearer ${token}` } } : {}) as unknown as string[]);
    const a = new RawAgent(ws, hostname);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`${hostname}: WebSocket error`));
    });
    return a;
  }

  /**
   * Connects and registers as `hostname`, proving `key` (a new host key if
   * none is given; `null`: an unkeyed register, as agents before host keys sent).
   */
  static async connect(master: { addr: string; adminToken: string }, hostname: string, version = "0.0.1-raw", options: number | { key?: HostKey | null; token?: string; reportPort?: number } = {}): Promise<RawAgent> {
    const opts = typeof options === "number" ? { reportPort: options } : options;
    const token = opts.token ?? master.adminToken;
    const a = await RawAgent.open(master.addr, token, hostname);
    const base = { hostname, hardware: { ncpus: 2, memBytes: 4e9, gpus: 0 }, reportPort: opts.reportPort ?? 40000, version };
    const key = opts.key === undefined ? await RawAgent.keyFor(hostname) : opts.key;
    a.send(key ? await signedRegister(base, key, token) : { type: "register", ...base });
    const reg = await a.next((m) => m.type === "registered" || m.type === "error");
    if (reg.type !== "registered") throw new Error(`${hostname}: registration refused: ${JSON.stringify(reg)}`);
    a.hostId = reg.hostId as number;
    a.registered = reg;
    return a;
  }

  send(m: unknown): void {
    this.ws.send(typeof m === "string" ? m : JSON.stringify(m));
  }

  /** The first message (kept or to come) that matches; it is taken out of the inbox. */
  async next(pred: (m: Msg) => boolean, timeoutMs = 5000): Promise<Msg> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`${this.hostname}: connection closed while waiting`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.hostname}: no matching message within ${timeoutMs} ms; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ws.close();
    return waitFor(() => this.closed, 5000, `${this.hostname} to close`).then(() => {});
  }
}
