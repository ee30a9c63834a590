/**
 * A 3-member etcd on loopback for bench/raft.ts to measure beside lava in
 * the same run (Debian's etcd-server; `apt-get install etcd-server`).
 * Writes go through etcd's JSON gateway (POST /v3/kv/put), the same kind
 * of HTTP/1.1 JSON request lava's clients send. Every member is stopped by
 * the caller (try/finally); killed members restart on their data dir.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { waitFor } from "../../tests/helpers/wait.ts";
import { trackChild } from "./child.ts";

/** The etcd binary on PATH, or null. */
export function etcdBinary(): string | null {
  return Bun.which("etcd");
}

/** `etcd --version`'s first line. */
export function etcdVersion(bin: string): string {
  return Bun.spawnSync([bin, "--version"], { stderr: "pipe" }).stdout.toString().split("\n")[0]?.trim() ?? "";
}

export class EtcdMember {
  proc: Subprocess<"ignore", "ignore", "pipe"> | null = null;
  private stderrTail = "";
  constructor(
    readonly bin: string,
    readonly name: string,
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly initialCluster: string,
  ) {}

  get addr(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start(): void {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const client = `http://${this.addr}`;
    const proc = Bun.spawn(
      [
        this.bin,
        "--name", this.name,
        "--data-dir", this.dataDir,
        "--listen-client-urls", client,
        "--advertise-client-urls", client,
        "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer,
        "--initial-cluster", this.initialCluster,
        "--initial-cluster-token", "lava-bench",
        "--initial-cluster-state", "new",
        "--logger", "zap",
        "--log-level", "error",
      ],
      { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? "" } },
    );
    this.proc = proc;
    trackChild(proc);
    void (async () => {
      const dec = new TextDecoder();
      try {
        for await (const chunk of proc.stderr) this.stderrTail = (this.stderrTail + dec.decode(chunk)).slice(-4000);
      } catch {
        /* gone */
      }
    })();
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    this.proc!.kill("SIGKILL");
    await this.proc!.exited;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const p = this.proc!;
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 5000);
    await p.exited;
    clearTimeout(t);
  }

  get log(): string {
    return this.stderrTail;
  }

  /** This member's id and who it thinks leads (null when it does not answer). */
  async status(): Promise<{ member: string; leader: string } | null> {
    try {
      const res = await fetch(`http://${this.addr}/v3/maintenance/status`, { method: "POST", body: "{}", signal: AbortSignal.timeout(500) });
      if (!res.ok) return null;
      const b = (await res.json()) as { header?: { member_id?: string }; leader?: string };
      return b.header?.member_id && b.leader && b.leader !== "0" ? { member: b.header.member_id, leader: b.leader } : null;
    } catch {
      return null;
    }
  }
}

export class EtcdCluster {
  private constructor(readonly members: EtcdMember[]) {}

  /** Three members on the given free ports (client, peer) under `root`; resolves once they agree on a leader. */
  static async start(bin: string, root: string, ports: { client: number; peer: number }[]): Promise<EtcdCluster> {
    const initial = ports.map((p, i) => `e${i + 1}=http://127.0.0.1:${p.peer}`).join(",");
    const c = new EtcdCluster(ports.map((p, i) => new EtcdMember(bin, `e${i + 1}`, join(root, `e${i + 1}`), p.client, p.peer, initial)));
    for (const m of c.members) m.start();
    try {
      await c.leader(20_000);
    } catch (e) {
      await c.stop();
      throw new Error(`etcd did not elect a leader: ${(e as Error).message}\n${c.members.map((m) => `${m.name}: ${m.log.slice(-500)}`).join("\n")}`);
    }
    return c;
  }

  /** The member every running member agrees leads. */
  async leader(timeoutMs = 10_000): Promise<EtcdMember> {
    return waitFor(
      async () => {
        const live = this.members.filter((m) => m.running);
        const st = await Promise.all(live.map((m) => m.status()));
        if (st.some((s) => s === null)) return null;
        const leader = st[0]!.leader;
        if (!st.every((s) => s!.leader === leader)) return null;
        const i = st.findIndex((s) => s!.member === leader);
        return i >= 0 ? live[i]! : null;
      },
      timeoutMs,
      "an agreed etcd leader",
      10,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()));
  }
}

/** One put through the JSON gateway; true when acknowledged (committed on a majority, fsynced). */
export async function etcdPut(addr: string, key: string, value: string, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await fetch(`http://${addr}/v3/kv/put`, {
      method: "POST",
      body: JSON.stringify({ key: Buffer.from(key).toString("base64"), value: Buffer.from(value).toString("base64") }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}
