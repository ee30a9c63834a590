/**
 * A compiled `lava master` for benchmarks: started on loopback with port 0
 * and a temp data dir, measured from outside (/proc), restarted on the same
 * ports, always stopped by the caller (try/finally).
 *
 * Unlike tests/helpers/cluster.ts it runs the binary as operators do (log
 * level info, not debug, so logging costs what it costs in production),
 * never rebuilds it behind the caller's back (other people may be editing
 * src/ while a benchmark runs), and keeps only the tail of the master's
 * output.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { cleanEnv } from "../../tests/helpers/binary.ts";
import { freePorts } from "../../tests/helpers/masters.ts";
import { waitFor } from "../../tests/helpers/wait.ts";
import { trackChild } from "./child.ts";

export const REPO = resolve(import.meta.dir, "..", "..");
export const DEFAULT_LAVA = join(REPO, "dist", "lava");

/** Keeps the last `maxChars` characters of a stream, so a chatty process cannot fill memory. */
class Tail {
  private chunks: string[] = [];
  private size = 0;
  constructor(private readonly maxChars = 64 * 1024) {}
  push(s: string): void {
    this.chunks.push(s);
    this.size += s.length;
    while (this.size > this.maxChars && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  get text(): string {
    return this.chunks.join("");
  }
}

/** Finds the binary; builds it with `bun run build` only if it does not exist. Warns if src/ is newer. */
export function lavaBinary(path: string | null): string {
  const bin = path ? resolve(path) : DEFAULT_LAVA;
  if (!existsSync(bin)) {
    if (path) throw new Error(`no lava binary at ${bin}`);
    console.error(`bench: ${bin} missing; running 'bun run build'`);
    const r = Bun.spawnSync([process.execPath, "run", "build"], { cwd: REPO, stdout: "inherit", stderr: "inherit" });
    if (r.exitCode !== 0) throw new Error("bun run build failed");
  }
  return bin;
}

/** `lava version` of the binary (first line), for the results. */
export function binaryVersion(bin: string): string {
  const r = Bun.spawnSync([bin, "version"], { env: cleanEnv(), stderr: "pipe" });
  return r.stdout.toString().trim().split("\n")[0] ?? "";
}

/** What `CMD ARGS…` prints (stdout and stderr: citty prints usage to either), for telling what an older build supports. */
export function helpText(cmd: string[], args: string[]): string {
  const r = Bun.spawnSync([...cmd, ...args], { env: cleanEnv(), stdout: "pipe", stderr: "pipe", timeout: 20_000 });
  return r.stdout.toString() + r.stderr.toString();
}

/** True if some file under src/ is newer than the binary (the figures may not describe the working tree). */
export function binaryIsStale(bin: string): boolean {
  const t = statSync(bin).mtimeMs;
  for (const e of readdirSync(join(REPO, "src"), { withFileTypes: true, recursive: true })) {
    if (e.isFile() && statSync(join(e.parentPath, e.name)).mtimeMs > t) return true;
  }
  return false;
}

export interface RunFile {
  pid: number;
  httpPort: number;
  udpPort: number;
}

export interface StatusBody {
  ingest: {
    accepted: number;
    dropped: Record<string, number>;
    kernel: { socketDrops: number; rcvbufErrors: number; inErrors: number } | null;
  };
  hosts: Record<string, number>;
  sessions: number;
}

export class BenchMaster {
  proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  run: RunFile | null = null;
  readonly output = new Tail();
  private ownsDataDir: boolean;

  private constructor(
    /** argv before `master …`: the binary, or e.g. [bun, --cpu-prof, src/main.ts]. */
    readonly cmd: string[],
    readonly dataDir: string,
    readonly extraArgs: string[],
    ownsDataDir: boolean,
  ) {
    this.ownsDataDir = ownsDataDir;
  }

  /** Extra environment (LAVA_NODE_ID, LAVA_RAFT_PEERS for a cluster member). */
  env: Record<string, string> = {};
  /** Ports for the first start (cluster members must know each other's in advance). */
  ports: { http: number; udp: number } | null = null;

  static async start(opts: { bin: string | string[]; dataDir?: string; args?: string[]; env?: Record<string, string>; ports?: { http: number; udp: number } }): Promise<BenchMaster> {
    const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "lava-bench-"));
    const m = new BenchMaster(typeof opts.bin === "string" ? [opts.bin] : opts.bin, dir, opts.args ?? [], !opts.dataDir);
    m.env = opts.env ?? {};
    m.ports = opts.ports ?? null;
    await m.restart();
    return m;
  }

  get pid(): number {
    if (!this.run) throw new Error("master not started");
    return this.run.pid;
  }
  get httpPort(): number {
    return this.run!.httpPort;
  }
  get udpPort(): number {
    return this.run!.udpPort;
  }
  get addr(): string {
    return `127.0.0.1:${this.httpPort}`;
  }
  get adminToken(): string {
    return readFileSync(join(this.dataDir, "admin.token"), "utf8").trim();
  }

  /** (Re)starts on the same data dir; after the first start, on the same ports. */
  async restart(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) throw new Error("master still running; stop() it first");
    mkdirSync(this.dataDir, { recursive: true });
    rmSync(join(this.dataDir, "master.json"), { force: true });
    const known = this.run ? { http: this.run.httpPort, udp: this.run.udpPort } : this.ports;
    const ports = known ? ["--http-port", String(known.http), "--udp-port", String(known.udp)] : ["--http-port", "0", "--udp-port", "0"];
    const proc = Bun.spawn([...this.cmd, "master", "--data-dir", this.dataDir, "--bind", "127.0.0.1", ...ports, ...this.extraArgs], {
      env: { ...cleanEnv(), ...this.env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.proc = proc;
    trackChild(proc);
    void this.pump(proc.stdout);
    void this.pump(proc.stderr);
    const started = await waitFor<{ exited: number } | { run: RunFile } | null>(
      () => {
        if (proc.exitCode !== null) return { exited: proc.exitCode };
        try {
          const r = JSON.parse(readFileSync(join(this.dataDir, "master.json"), "utf8")) as RunFile;
          return r.pid === proc.pid ? { run: r } : null;
        } catch {
          return null;
        }
      },
      15_000,
      "the master to start",
      5,
    );
    if (!started || "exited" in started) throw new Error(`master exited ${started?.exited}: ${this.output.text.slice(-2000)}`);
    this.run = started.run;
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) this.output.push(dec.decode(chunk, { stream: true }));
    } catch {
      // the process went away
    }
  }

  async api<T>(path: string, timeoutMs = 10_000): Promise<T> {
    const res = await fetch(`http://${this.addr}${path}`, {
      headers: { authorization: `Bearer ${this.adminToken}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  status(): Promise<StatusBody> {
    return this.api<StatusBody>("/api/v1/status");
  }

  /** SIGKILL; resolves when the process is gone. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill("SIGKILL");
    await p.exited;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves when the process is gone. */
  async stop(timeoutMs = 5_000): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    await p.exited;
    clearTimeout(t);
  }

  /** Stops the master and removes the data dir if this object created it. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * `master:` keys (YAML, indented two spaces) that lift the per-token and
 * per-address registration limits (docs/security.md): a bench registers
 * thousands of simulated agents from one address with one token, which
 * those limits exist to stop. The upgrade admission still applies.
 */
export const LIFT_REGISTRATION_LIMITS = "  registrations:\n    perToken: 1000000\n    perAddress: 1000000\n    burst: 1000000\n";

/** A config file holding `master:` + `body` (YAML lines indented two spaces), in a temp dir. */
export function masterConfigFile(body: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "lava-bench-cfg-")), "lava.yaml");
  writeFileSync(file, `master:\n${body}`);
  return file;
}

/** What GET /_raft/health says (the fields a benchmark looks at). */
export interface RaftHealth {
  state: string;
  node_id: number;
  leader_id: number;
  term: number;
}

export async function raftHealth(addr: string): Promise<RaftHealth | null> {
  try {
    const res = await fetch(`http://${addr}/_raft/health`, { signal: AbortSignal.timeout(500) });
    return res.ok ? ((await res.json()) as RaftHealth) : null;
  } catch {
    return null;
  }
}

/** The member every running master of `ms` (the whole cluster: node ids 1…n in order) agrees leads: same term, same leader id. */
export async function clusterLeader(ms: readonly BenchMaster[], timeoutMs = 10_000, pollMs = 5): Promise<BenchMaster> {
  return waitFor(
    async () => {
      const live = ms.filter((m) => m.proc && m.proc.exitCode === null && m.proc.signalCode === null);
      const hs = await Promise.all(live.map((m) => raftHealth(m.addr)));
      const lead = hs.find((h) => h?.state === "Leader");
      if (!lead || !hs.every((h) => h && h.leader_id === lead.node_id && h.term === lead.term)) return null;
      return ms[lead.node_id - 1]!;
    },
    timeoutMs,
    "an agreed leader",
    pollMs,
  );
}

/**
 * `n` masters of one cluster (node ids 1…n, one shared secret, fixed free
 * ports so each knows the others' in advance), each a BenchMaster: run as
 * operators run them (log level info, output tail only), unlike
 * tests/helpers/masters.ts's TestCluster (debug logs kept whole), whose cost
 * would be measured with them. `secretFile` is created in `root`.
 */
export async function startBenchCluster(n: number, opts: { bin: string; root: string; args?: string[] }): Promise<BenchMaster[]> {
  const secretFile = join(opts.root, "secret");
  if (!existsSync(secretFile)) writeFileSync(secretFile, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") + "\n", { mode: 0o600 });
  const ports = await freePorts(n);
  const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p.http}`).join(",");
  const out: BenchMaster[] = [];
  try {
    for (let i = 0; i < n; i++) {
      out.push(await BenchMaster.start({ bin: opts.bin, dataDir: join(opts.root, `m${i + 1}`), args: ["--secret-file", secretFile, ...(opts.args ?? [])], ports: ports[i]!, env: { LAVA_NODE_ID: String(i + 1), LAVA_RAFT_PEERS: peers } }));
    }
  } catch (e) {
    await Promise.all(out.map((m) => m.stop()));
    throw e;
  }
  return out;
}
