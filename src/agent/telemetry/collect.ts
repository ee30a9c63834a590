/**
 * The agent's telemetry (design §4 `telemetry`, docs/api.md "Telemetry"):
 * filesystems, network and disk rates, the top processes by CPU and by
 * memory, GPUs and containers where there are any. The edge that reads
 * them: /proc under the agent's procRoot, statfs, /sys for AMD GPUs,
 * nvidia-smi, and a Docker or Podman socket. Each part that cannot be read
 * is left out, with the reason in `skipped`; nothing here throws.
 *
 * Rates need two readings: the first collection only takes the baseline
 * (its message has filesystems, GPUs and containers, no rates).
 */
import { existsSync, readdirSync, readFileSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { TELEMETRY_LIMITS, type Telemetry } from "../../control/index.ts";
import { localFilesystems, parseMounts } from "../health/mounts.ts";
import { parseDiskstats, parseNetDev, parsePasswd, parseProcStat, parseStatusUid, rate, topBy, type DiskCounters, type NetCounters, type ProcStat } from "./parse.ts";

export interface TelemetrySources {
  procRoot: string;
  /** Where /sys is (AMD GPUs: class/drm/card*). */
  sysRoot?: string;
  /** Docker- or Podman-compatible API sockets, tried in order; the first that exists is used. */
  containerSockets: readonly string[];
  /** nvidia-smi, looked up in PATH when not given; null: do not try. */
  nvidiaSmi?: string | null;
  statfs?: (path: string) => { bsize: number; blocks: number; bfree: number; bavail: number; files: number; ffree: number };
}

/** Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on every Linux that runs lava). */
const USER_HZ = 100;
const PAGE_BYTES = 4096;
/** Processes looked at per collection (a bound for hosts with huge process tables). */
const PIDS_MAX = 32_768;
/** Containers asked for their stats per collection, at most this many at once, each within the timeout. */
const CONTAINER_STATS_MAX = 20;
const CONTAINER_PARALLEL = 4;
const SOCKET_TIMEOUT_MS = 2000;
const NVIDIA_TIMEOUT_MS = 5000;

type Part = keyof Omit<Telemetry, "type" | "at" | "intervalMs" | "skipped">;

export class TelemetryCollector {
  private prevNet: Map<string, NetCounters> | null = null;
  private prevDisk: Map<string, DiskCounters> | null = null;
  private prevTicks = new Map<number, number>();
  private prevContainerCpu = new Map<string, number>();
  private prevMs = 0;

  constructor(
    private readonly src: TelemetrySources,
    private readonly intervalMs: number,
  ) {}

  /** One message; `nowMs` is monotonic (for rates), `wallMs` the `at`. */
  async collect(nowMs: number, wallMs: number): Promise<Telemetry> {
    const dtS = this.prevMs ? (nowMs - this.prevMs) / 1000 : 0;
    this.prevMs = nowMs;
    const msg: Telemetry = { type: "telemetry", at: wallMs, intervalMs: this.intervalMs };
    const skipped: Record<string, string> = {};
    const part = <K extends Part>(name: K, read: () => Telemetry[K] | string | undefined) => {
      try {
        const v = read();
        if (typeof v === "string") skipped[name] = v.slice(0, 500);
        else if (v !== undefined) msg[name] = v;
      } catch (e) {
        skipped[name] = String((e as Error).message ?? e).slice(0, 500);
      }
    };
    part("filesystems", () => this.filesystems());
    part("network", () => this.network(dtS));
    part("disks", () => this.disks(dtS));
    part("processes", () => this.processes(dtS));
    const [gpus, containers] = await Promise.all([this.gpus().catch((e: Error) => e.message), this.containers(dtS).catch((e: Error) => e.message)]);
    part("gpus", () => gpus);
    part("containers", () => containers);
    if (Object.keys(skipped).length) msg.skipped = skipped;
    return fitToBound(msg);
  }

  private filesystems(): Telemetry["filesystems"] | string {
    const mounts = readFileSync(join(this.src.procRoot, "mounts"), "utf8");
    const statfs = this.src.statfs ?? ((p: string) => statfsSync(p));
    const out: NonNullable<Telemetry["filesystems"]> = [];
    for (const m of localFilesystems(parseMounts(mounts), TELEMETRY_LIMITS.filesystems)) {
      try {
        const s = statfs(m.mountpoint);
        const used = Math.max(0, s.blocks - s.bfree) * s.bsize;
        out.push({ mount: m.mountpoint.slice(0, 4096), fstype: m.fstype.slice(0, 64), sizeBytes: s.blocks * s.bsize, usedBytes: used, inodes: s.files, inodesUsed: Math.max(0, s.files - s.ffree) });
      } catch {
        // Unreadable (a hung or vanished mount): left out of the list.
      }
    }
    return out;
  }

  private network(dtS: number): Telemetry["network"] | string | undefined {
    const cur = parseNetDev(readFileSync(join(this.src.procRoot, "net", "dev"), "utf8"));
    const prev = this.prevNet;
    this.prevNet = cur;
    if (!prev || dtS <= 0) return undefined;
    const out: NonNullable<Telemetry["network"]> = [];
    for (const [name, c] of cur) {
      const p = prev.get(name);
      if (!p || out.length >= TELEMETRY_LIMITS.interfaces) continue;
      out.push({ name: name.slice(0, 64), rxBytesPerSec: rate(p.rxBytes, c.rxBytes, dtS), txBytesPerSec: rate(p.txBytes, c.txBytes, dtS), rxErrorsPerSec: rate(p.rxErrors, c.rxErrors, dtS), txErrorsPerSec: rate(p.txErrors, c.txErrors, dtS) });
    }
    return out;
  }

  private disks(dtS: number): Telemetry["disks"] | string | undefined {
    const cur = parseDiskstats(readFileSync(join(this.src.procRoot, "diskstats"), "utf8"));
    const prev = this.prevDisk;
    this.prevDisk = cur;
    if (!prev || dtS <= 0) return undefined;
    const out: NonNullable<Telemetry["disks"]> = [];
    for (const [name, c] of cur) {
      const p = prev.get(name);
      if (!p || out.length >= TELEMETRY_LIMITS.disks) continue;
      out.push({ name, readBytesPerSec: rate(p.sectorsRead, c.sectorsRead, dtS) * 512, writeBytesPerSec: rate(p.sectorsWritten, c.sectorsWritten, dtS) * 512, readsPerSec: rate(p.reads, c.reads, dtS), writesPerSec: rate(p.writes, c.writes, dtS) });
    }
    return out;
  }

  private processes(dtS: number): Telemetry["processes"] | string | undefined {
    const root = this.src.procRoot;
    const stats: (ProcStat & { cpuPercent: number; rssBytes: number })[] = [];
    const ticks = new Map<number, number>();
    for (const name of readdirSync(root).slice(0, PIDS_MAX * 2)) {
      if (!/^\d+$/.test(name) || ticks.size >= PIDS_MAX) continue;
      let st: ProcStat | null = null;
      try {
        st = parseProcStat(readFileSync(join(root, name, "stat"), "utf8"));
      } catch {
        continue; // gone since readdir
      }
      if (!st) continue;
      ticks.set(st.pid, st.ticks);
      const before = this.prevTicks.get(st.pid);
      const cpu = before !== undefined && dtS > 0 ? (rate(before, st.ticks, dtS) / USER_HZ) * 100 : 0;
      stats.push({ ...st, cpuPercent: cpu, rssBytes: st.rssPages * PAGE_BYTES });
    }
    const first = this.prevTicks.size === 0;
    this.prevTicks = ticks;
    if (first) return undefined;
    let users: Map<number, string> | null = null;
    const describe = (p: (typeof stats)[number]) => {
      let command = p.comm;
      let user: string | undefined;
      try {
        const cmdline = readFileSync(join(root, String(p.pid), "cmdline"), "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
        if (cmdline) command = cmdline;
        const uid = parseStatusUid(readFileSync(join(root, String(p.pid), "status"), "utf8"));
        if (uid !== null) {
          users ??= readPasswd();
          user = users.get(uid) ?? String(uid);
        }
      } catch {
        // exited meanwhile: keep what stat said
      }
      return { pid: p.pid, ...(user ? { user: user.slice(0, 64) } : {}), command: command.slice(0, 256), cpuPercent: round2(p.cpuPercent), rssBytes: p.rssBytes };
    };
    return {
      byCpu: topBy(stats, (p) => p.cpuPercent, TELEMETRY_LIMITS.processes).map(describe),
      byMemory: topBy(stats, (p) => p.rssBytes, TELEMETRY_LIMITS.processes).map(describe),
    };
  }

  private async gpus(): Promise<Telemetry["gpus"] | string> {
    const out: NonNullable<Telemetry["gpus"]> = [];
    const smi = this.src.nvidiaSmi === undefined ? Bun.which("nvidia-smi") : this.src.nvidiaSmi;
    if (smi) {
      const p = Bun.spawn([smi, "--query-gpu=index,name,utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"], { stdin: "ignore", stdout: "pipe", stderr: "ignore", timeout: NVIDIA_TIMEOUT_MS });
      const [text, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
      if (code === 0) {
        for (const line of text.split("\n")) {
          const f = line.split(",").map((x) => x.trim());
          if (f.length < 5 || out.length >= TELEMETRY_LIMITS.gpus) continue;
          const [index, util, used, total] = [Number(f[0]), Number(f[2]), Number(f[3]), Number(f[4])];
          if (![index, util, used, total].every(Number.isFinite)) continue;
          out.push({ index, name: f[1]!.slice(0, 128), utilPercent: Math.min(100, Math.max(0, util)), memUsedBytes: used * 2 ** 20, memTotalBytes: total * 2 ** 20 });
        }
      }
    }
    // AMD (amdgpu): sysfs has utilisation and VRAM per card.
    const drm = join(this.src.sysRoot ?? "/sys", "class", "drm");
    if (out.length === 0 && existsSync(drm)) {
      for (const card of readdirSync(drm).filter((c) => /^card\d+$/.test(c))) {
        const dev = join(drm, card, "device");
        try {
          const util = Number(readFileSync(join(dev, "gpu_busy_percent"), "utf8"));
          const used = Number(readFileSync(join(dev, "mem_info_vram_used"), "utf8"));
          const total = Number(readFileSync(join(dev, "mem_info_vram_total"), "utf8"));
          if ([util, used, total].every(Number.isFinite) && out.length < TELEMETRY_LIMITS.gpus) out.push({ index: Number(card.slice(4)), name: "amdgpu", utilPercent: Math.min(100, Math.max(0, util)), memUsedBytes: used, memTotalBytes: total });
        } catch {
          // not an amdgpu card
        }
      }
    }
    return out.length ? out : smi ? "nvidia-smi found no GPU" : "no GPU found (no nvidia-smi in PATH, no amdgpu in /sys/class/drm)";
  }

  private async containers(dtS: number): Promise<Telemetry["containers"] | string> {
    const socket = this.src.containerSockets.find((s) => existsSync(s));
    if (!socket) return this.src.containerSockets.length ? "no Docker or Podman socket" : "off (agent.telemetry.containerSockets is empty)";
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(`http://localhost${path}`, { unix: socket, signal: AbortSignal.timeout(SOCKET_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`${socket}: ${path}: HTTP ${res.status}`);
      return (await res.json()) as T;
    };
    type Listed = { Id: string; Names?: string[]; Image?: string; State?: string };
    const list = (await api<Listed[]>("/containers/json?all=1")).slice(0, TELEMETRY_LIMITS.containers);
    const out: NonNullable<Telemetry["containers"]> = list.map((c) => ({ id: String(c.Id).slice(0, 64), name: String(c.Names?.[0] ?? "").replace(/^\//, "").slice(0, 256), image: String(c.Image ?? "").slice(0, 256), state: String(c.State ?? "").slice(0, 32) }));
    const running = out.filter((c) => c.state === "running").slice(0, CONTAINER_STATS_MAX);
    const cpuNow = new Map<string, number>();
    type Stats = { cpu_stats?: { cpu_usage?: { total_usage?: number } }; memory_stats?: { usage?: number } };
    for (let i = 0; i < running.length; i += CONTAINER_PARALLEL) {
      await Promise.all(
        running.slice(i, i + CONTAINER_PARALLEL).map(async (c) => {
          try {
            const s = await api<Stats>(`/containers/${encodeURIComponent(c.id)}/stats?stream=false&one-shot=true`);
            const usage = s.cpu_stats?.cpu_usage?.total_usage;
            if (typeof usage === "number") {
              cpuNow.set(c.id, usage);
              const before = this.prevContainerCpu.get(c.id);
              // total_usage is in ns of CPU time: per second of wall time, in percent of one CPU.
              if (before !== undefined && dtS > 0) c.cpuPercent = round2(rate(before, usage, dtS) / 1e7);
            }
            if (typeof s.memory_stats?.usage === "number") c.memBytes = s.memory_stats.usage;
          } catch {
            // one container's stats failing leaves the others
          }
        }),
      );
    }
    this.prevContainerCpu = cpuNow;
    return out;
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function readPasswd(): Map<number, string> {
  try {
    return parsePasswd(readFileSync("/etc/passwd", "utf8"));
  } catch {
    return new Map();
  }
}

/** Parts dropped, least useful first, until the message is within TELEMETRY_LIMITS.bytes. */
const DROP_ORDER: Part[] = ["containers", "processes", "disks", "network", "gpus", "filesystems"];

export function fitToBound(msg: Telemetry): Telemetry {
  for (const p of DROP_ORDER) {
    if (JSON.stringify(msg).length <= TELEMETRY_LIMITS.bytes - 200) return msg;
    if (msg[p] === undefined) continue;
    delete msg[p];
    msg.skipped = { ...msg.skipped, [p]: `left out: the message would be over ${TELEMETRY_LIMITS.bytes} bytes` };
  }
  return msg;
}
