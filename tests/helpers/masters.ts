/**
 * A cluster of compiled masters on loopback for end-to-end tests: fixed
 * free ports (each must know the others' in advance), one shared cluster
 * secret, node ids 1…n, and helpers to find the leader and to read each
 * master's own database.
 */
import { Database } from "bun:sqlite";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnLava, TestMaster, tempDir, type Proc } from "./cluster.ts";
import { waitFor } from "./wait.ts";

/** Ports free right now (bound to port 0, then released). */
export async function freePorts(n: number): Promise<{ http: number; udp: number }[]> {
  const out: { http: number; udp: number }[] = [];
  const held: { stop(): void }[] = [];
  for (let i = 0; i < n; i++) {
    const tcp = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    out.push({ http: tcp.port, udp: udp.port });
    held.push({ stop: () => tcp.stop(true) }, { stop: () => udp.close() });
  }
  for (const h of held) h.stop();
  return out;
}

export interface Health {
  node_id: number;
  state: string;
  term: number;
  commit_index: number;
  last_applied: number;
  leader_id: number;
  followers: Record<string, string>;
}

export class TestCluster {
  readonly root = tempDir("lava-raft-");
  readonly secretFile = join(this.root, "secret");
  constructor(readonly masters: TestMaster[]) {}

  /**
   * Starts n masters; `config` is YAML for every master's config file (e.g. raft tuning); `tlsCa` for masters with master.tls in it;
   * `ports` and `peersOf` (master i's LAVA_RAFT_PEERS) to route masters through something (tests/helpers/partition.ts).
   */
  static async start(n: number, opts: { config?: string; tlsCa?: string; ports?: { http: number; udp: number }[]; peersOf?: (i: number) => string } = {}): Promise<TestCluster> {
    const ports = opts.ports ?? (await freePorts(n));
    const c = new TestCluster([]);
    writeFileSync(c.secretFile, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") + "\n", { mode: 0o600 });
    const shared = ports.map((p, i) => `${i + 1}=127.0.0.1:${p.http}`).join(",");
    for (let i = 0; i < n; i++) {
      const args = ["--secret-file", c.secretFile];
      if (opts.config) {
        const f = join(c.root, `m${i + 1}.yaml`);
        writeFileSync(f, opts.config);
        args.push("--config", f);
      }
      const m = new TestMaster(join(c.root, `m${i + 1}`), args);
      m.fixedPorts = ports[i]!;
      m.env = { LAVA_NODE_ID: String(i + 1), LAVA_RAFT_PEERS: opts.peersOf ? opts.peersOf(i) : shared };
      m.tlsCa = opts.tlsCa ?? null;
      c.masters.push(m);
    }
    await Promise.all(c.masters.map((m) => m.restart()));
    return c;
  }

  get addrs(): string[] {
    return this.masters.map((m) => m.addr);
  }

  async health(m: TestMaster): Promise<Health | null> {
    try {
      const res = await fetch(`${m.url}/_raft/health`, { tls: m.fetchTls, signal: AbortSignal.timeout(1000) });
      return res.ok ? ((await res.json()) as Health) : null;
    } catch {
      return null;
    }
  }

  running(): TestMaster[] {
    return this.masters.filter((m) => m.proc.proc.exitCode === null && m.proc.proc.signalCode === null);
  }

  /** The master every running master agrees leads (same term, same leader id). */
  async leader(timeoutMs = 5000, exclude?: TestMaster): Promise<TestMaster> {
    return waitFor(
      async () => {
        const live = this.running().filter((m) => m !== exclude);
        const hs = await Promise.all(live.map((m) => this.health(m)));
        if (hs.some((h) => h === null)) return null;
        const lead = hs.find((h) => h!.state === "Leader");
        if (!lead || !hs.every((h) => h!.leader_id === lead.node_id && h!.term === lead.term)) return null;
        return this.masters[lead.node_id - 1]!;
      },
      timeoutMs,
      "one agreed leader",
      20,
    );
  }

  /** Rows of a table in a master's own database (read-only; works while it runs). */
  query<T>(m: TestMaster, sql: string): T[] {
    const db = new Database(join(m.dataDir, "lava.db"), { readonly: true });
    try {
      return db.query(sql).all() as T[];
    } finally {
      db.close();
    }
  }

  /** An agent given every master's address, with the leader's admin token; resolves once the leader has its channel. */
  async startAgent(hostname: string, procRoot: string, args: string[] = []): Promise<Proc> {
    const leader = await this.leader(15_000);
    const agent = spawnLava(["agent", "--master", this.addrs.join(","), "--hostname", hostname, "--interval", "1", "--proc-root", procRoot, ...args], {
      LAVA_TOKEN: leader.adminToken,
      LAVA_RECONNECT_MIN: "0.2",
      LAVA_RECONNECT_MAX: "1",
    });
    await waitFor(async () => (await leader.api<{ host: string; connected: boolean }[]>("/api/v1/hosts")).body.find((h) => h.host === hostname && h.connected === true), 20_000, `${hostname} connected to the leader`);
    return agent;
  }

  async stop(): Promise<void> {
    await Promise.all(this.masters.map((m) => m.stop()));
  }

  cleanup(): void {
    const { rmSync } = require("node:fs") as typeof import("node:fs");
    rmSync(this.root, { recursive: true, force: true });
  }
}
