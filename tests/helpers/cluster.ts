/**
 * Real processes for end-to-end tests: compiled masters and agents on
 * loopback with port 0 and temp data dirs, stopped by the test.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { cleanEnv, ensureBinary } from "./binary.ts";
import { answerOf } from "./http.ts";
import { waitFor } from "./wait.ts";

export function tempDir(prefix = "lava-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface RunFile {
  pid: number;
  httpPort: number;
  udpPort: number;
  tcpReportPort: number | null;
  advertise: string;
}

export class Proc {
  readonly output: string[] = [];
  constructor(readonly proc: Subprocess<"ignore", "pipe", "pipe">) {
    void this.pump(proc.stdout);
    void this.pump(proc.stderr);
  }
  private async pump(stream: ReadableStream<Uint8Array>) {
    const dec = new TextDecoder();
    for await (const chunk of stream) this.output.push(dec.decode(chunk));
  }
  get text(): string {
    return this.output.join("");
  }
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 5000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    const code = await this.proc.exited;
    clearTimeout(t);
    return code;
  }
  kill9(): Promise<number> {
    this.proc.kill("SIGKILL");
    return this.proc.exited;
  }
}

/** Where test agents keep their state (one dir each, under one root removed when the test process exits). */
let stateRoot: string | null = null;
export function agentStateDir(): string {
  if (!stateRoot) {
    const root = tempDir("lava-agent-state-");
    stateRoot = root;
    process.on("exit", () => rmSync(root, { recursive: true, force: true }));
  }
  return mkdtempSync(join(stateRoot, "a-"));
}

/**
 * Agents get a temp --state-dir unless the test gives one, and take jobs
 * although their master runs on this machine (agent.jobs.onMaster), unless
 * the test says otherwise.
 */
export function spawnLava(args: string[], env: Record<string, string> = {}): Proc {
  const agent = args[0] === "agent";
  const full = agent && !args.includes("--state-dir") ? [...args, "--state-dir", agentStateDir()] : args;
  const proc = Bun.spawn([ensureBinary(), ...full], {
    env: { ...cleanEnv(), ...(agent ? { LAVA_JOBS_ON_MASTER: "true" } : {}), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return new Proc(proc);
}

export class TestMaster {
  proc!: Proc;
  run!: RunFile;
  /** Ports to use from the first start (masters of a cluster must know each other's in advance). */
  fixedPorts: { http: number; udp: number } | null = null;
  /** Extra environment (LAVA_NODE_ID, LAVA_RAFT_PEERS, …). */
  env: Record<string, string> = {};
  /** Set for a master with master.tls: its CA's PEM file; api(), url and TestCluster then use https. */
  tlsCa: string | null = null;
  /** PEM files of the client certificate the test presents (a master with master.tls.requireClientCert). */
  clientCert: { cert: string; key: string } | null = null;
  constructor(
    readonly dataDir: string,
    readonly extraArgs: string[] = [],
  ) {}

  static async start(opts: { dataDir?: string; args?: string[]; config?: string; tlsCa?: string } = {}): Promise<TestMaster> {
    const m = new TestMaster(opts.dataDir ?? tempDir("lava-master-"), opts.args ?? []);
    m.tlsCa = opts.tlsCa ?? null;
    if (opts.config) {
      const f = join(m.dataDir, "..", `${m.dataDir.split("/").pop()}.yaml`);
      writeFileSync(f, opts.config);
      m.extraArgs.push("--config", f);
    }
    await m.restart();
    return m;
  }

  /** Starts (again) on the same data dir; ports are the ones of the first start when known. */
  async restart(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    rmSync(join(this.dataDir, "master.json"), { force: true });
    const known = this.run ? { http: this.run.httpPort, udp: this.run.udpPort } : this.fixedPorts;
    const ports = known ? ["--http-port", String(known.http), "--udp-port", String(known.udp)] : ["--http-port", "0", "--udp-port", "0"];
    this.proc = spawnLava(["master", "--data-dir", this.dataDir, "--bind", "127.0.0.1", ...ports, "--log-level", "debug", ...this.extraArgs], this.env);
    const started = await waitFor(
      () => {
        if (this.proc.proc.exitCode !== null) return { exited: this.proc.proc.exitCode };
        try {
          const r = JSON.parse(readFileSync(join(this.dataDir, "master.json"), "utf8")) as RunFile;
          return r.pid === this.proc.proc.pid ? { run: r } : null;
        } catch {
          return null;
        }
      },
      10_000,
      "master to start",
    );
    if (!("run" in started)) throw new Error(`master exited ${started.exited}: ${this.proc.text}`);
    this.run = started.run!;
  }

  get addr(): string {
    return `127.0.0.1:${this.run.httpPort}`;
  }
  /** "http(s)://127.0.0.1:PORT". */
  get url(): string {
    return `${this.tlsCa ? "https" : "http"}://${this.addr}`;
  }
  /** fetch()'s `tls` for this master: its CA, or nothing for plain http. */
  get fetchTls(): { ca: string; cert?: string; key?: string } | undefined {
    if (!this.tlsCa) return undefined;
    const mine = this.clientCert ? { cert: readFileSync(this.clientCert.cert, "utf8"), key: readFileSync(this.clientCert.key, "utf8") } : {};
    return { ca: readFileSync(this.tlsCa, "utf8"), ...mine };
  }
  get adminToken(): string {
    return readFileSync(join(this.dataDir, "admin.token"), "utf8").trim();
  }

  async api<T = unknown>(path: string, init: RequestInit & { token?: string | null } = {}): Promise<{ status: number; body: T }> {
    const token = init.token === undefined ? this.adminToken : init.token;
    const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${this.url}${path}`, { ...init, headers, tls: this.fetchTls });
    return { status: res.status, body: (await answerOf(res)) as T };
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
  cleanup(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A /proc fixture a test agent can read (procRoot), with values the test knows. */
export function writeProcFixture(dir: string, v: { load: [number, number, number]; memTotalKb?: number; memAvailKb?: number } = { load: [0.5, 0.25, 0.125] }): string {
  mkdirSync(join(dir, "net"), { recursive: true });
  writeFileSync(join(dir, "loadavg"), `${v.load.map((x) => x.toFixed(2)).join(" ")} 2/345 6789\n`);
  const total = v.memTotalKb ?? 8_000_000;
  const avail = v.memAvailKb ?? 6_000_000;
  writeFileSync(
    join(dir, "meminfo"),
    `MemTotal:       ${total} kB\nMemFree:        ${avail - 1000} kB\nMemAvailable:   ${avail} kB\nBuffers:        1000 kB\nCached:         2000 kB\nSwapTotal:      1000 kB\nSwapFree:       1000 kB\n`,
  );
  writeFileSync(join(dir, "stat"), "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\nprocs_running 1\n");
  return dir;
}

/**
 * `opts.master` replaces `master.addr` as --master (e.g. "https://127.0.0.1:PORT").
 * Each agent gets a temp --state-dir (its host key lives there) unless `stateDir` is given
 * (the same one again: the same host key, as after a restart).
 */
export function startAgent(master: TestMaster, opts: { hostname: string; procRoot?: string; interval?: number; token?: string; args?: string[]; master?: string; stateDir?: string; env?: Record<string, string> }): Proc {
  const args = [
    "--state-dir",
    opts.stateDir ?? tempDir(`lava-agent-${opts.hostname}-`),
    "--master",
    opts.master ?? master.addr,
    "--hostname",
    opts.hostname,
    "--interval",
    String(opts.interval ?? 1),
    "--log-level",
    "debug",
    ...(opts.procRoot ? ["--proc-root", opts.procRoot] : []),
    ...(opts.args ?? []),
  ];
  return spawnLava(["agent", ...args], { LAVA_TOKEN: opts.token ?? master.adminToken, LAVA_RECONNECT_MIN: "0.2", LAVA_RECONNECT_MAX: "1", ...opts.env });
}
