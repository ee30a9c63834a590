/**
 * Everything about jobs that belongs to the agent as a whole rather than
 * to one attempt (docs/jobs.md): the state directory and the keeper, the
 * clean-up after a restart, self-fencing without a master, the GPUs and
 * labels the host offers, and whether it takes jobs at all (a master's
 * host does not, unless agent.jobs.onMaster). agent.ts wires it in.
 */
import { mkdirSync } from "node:fs";
import { networkInterfaces } from "node:os";
import type { AgentConfig } from "../../config/index.ts";
import { defaultAgentStateDir } from "../../config/index.ts";
import type { Hardware, HostPort } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import { errorText, guard } from "../control.ts";
import { detectGpus, GpuPool, REAL_ROOTS, type GpuRoots } from "./gpus.ts";
import { startKeeper, stopPreviousKeeper, type Keeper } from "./keeper.ts";
import { ensureRecordsDir } from "./records.ts";
import { createJobRunner, type JobRunner, type JobRunnerOptions } from "./runner.ts";

const log = logger("agent");

/** Before the first registration says otherwise: the master's default jobs.lostAfter. */
export const LOST_AFTER_MS_DEFAULT = 60_000;

export interface JobHostOptions {
  runner: JobRunnerOptions;
  /** Why argv may not run (agent.jobs.allow through the exec matcher), or null. */
  allowed: ((argv: readonly string[]) => string | null) | null;
  gpuRoots?: GpuRoots;
  /** Monotonic ms. */
  now: () => number;
  /** Host name → addresses, to tell whether a master runs here. */
  resolveAll?: (host: string) => Promise<string[]>;
}

export interface JobHost {
  readonly runner: JobRunner;
  readonly stateDir: string;
  /** What `register` says about jobs: GPUs, labels, a master here, whether it takes jobs. */
  hardware(): Pick<Hardware, "gpus" | "labels" | "onMaster" | "takesJobs">;
  /** Before connecting: the state dir, the previous agent's leftovers, the keeper, whether a master runs here. */
  start(masters: readonly HostPort[]): Promise<void>;
  /** The master's jobs.lostAfter from `registered`. */
  setLostAfterMs(ms: number | undefined): void;
  /** Called every second or so: `heardAt` is when a registered master was last heard (now() terms), or null if none is registered now. */
  tick(heardAt: number | null): void;
  /** After the runner stopped: the keeper goes too. */
  stop(): void;
}

export function createJobHost(config: AgentConfig, opts: JobHostOptions): JobHost {
  const stateDir = config.stateDir ?? defaultAgentStateDir(config.hostname);
  const detected = detectGpus(opts.gpuRoots ?? REAL_ROOTS);
  const gpus = new GpuPool(config.gpus ?? detected.count, detected.vendor);
  let recordsDir: string | null = null;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    recordsDir = ensureRecordsDir(stateDir);
  } catch (e) {
    log.warn(`cannot use the state dir ${stateDir} (${errorText(e)}): jobs are not recorded, so a restarted agent cannot end what it left running; set agent.stateDir or --state-dir`);
  }
  const runner = createJobRunner({
    ...opts.runner,
    recordsDir,
    users: { user: config.jobs.user, users: config.jobs.users, allowRoot: config.jobs.allowRoot },
    gpus,
    ...(opts.allowed ? { allowed: opts.allowed } : {}),
  });
  let keeper: Keeper | null = null;
  let onMaster = false;
  let lostAfterMs = LOST_AFTER_MS_DEFAULT;
  let contact = opts.now();
  let fencing = false;

  return {
    runner,
    stateDir,
    hardware() {
      return {
        gpus: gpus.count,
        ...(config.labels.length > 0 ? { labels: config.labels } : {}),
        ...(onMaster ? { onMaster: true } : {}),
        ...(onMaster && !config.jobs.onMaster ? { takesJobs: false } : {}),
      };
    },

    async start(masters) {
      if (gpus.count > 0) log.info(`${gpus.count} GPU(s) for jobs${config.gpus !== undefined ? " (agent.gpus)" : ` (${detected.vendor} detected)`}`);
      if (process.getuid?.() !== 0) log.info(`the agent does not run as root: jobs run as its own user, not agent.jobs.user (${config.jobs.user})`);
      onMaster = await masterRunsHere(masters, opts.resolveAll ?? resolveAll);
      if (onMaster && !config.jobs.onMaster) log.warn("a lava master runs on this host: it takes no jobs (set agent.jobs.onMaster: true to let it run jobs beside the master)");
      else if (onMaster) log.warn("a lava master runs on this host, and agent.jobs.onMaster lets it take jobs: they compete with the master for CPU and memory");
      if (recordsDir === null) return;
      stopPreviousKeeper(stateDir);
      await runner.reclaim();
      keeper = startKeeper(stateDir, recordsDir);
    },

    setLostAfterMs(ms) {
      if (ms !== undefined) lostAfterMs = ms;
      contact = opts.now();
    },

    tick(heardAt) {
      const now = opts.now();
      if (heardAt !== null) {
        contact = Math.max(contact, heardAt);
        return;
      }
      if (!config.jobs.selfFence || fencing) return;
      const c = runner.counts();
      if (c.running + c.pending === 0) return;
      if (now - contact <= fenceAfterMs(lostAfterMs, runner.graceMs())) return;
      fencing = true;
      void runner
        .fence(`no master heard for ${Math.round((now - contact) / 100) / 10} s (the master requeues after jobs.lostAfter, ${lostAfterMs / 1000} s): ending them here, so that a requeued attempt never overlaps them`)
        .finally(guard(() => (fencing = false)));
    },

    stop() {
      keeper?.stop();
      keeper = null;
    },
  };
}

/** Room kept between the end of self-fencing and the master's requeue, for clocks and timers that are late. */
export const FENCE_MARGIN_MS = 2_000;

/**
 * How long an agent without a master lets its jobs run before it ends them
 * (docs/jobs.md "Self-fencing"): late enough that a short master outage
 * (a restart, a failover) costs nothing, early enough that the jobs are
 * gone — SIGTERM, the kill grace, SIGKILL — before the master could requeue
 * them at jobs.lostAfter. Never before half of lostAfter.
 */
export function fenceAfterMs(lostAfterMs: number, graceMs: number): number {
  return Math.max(lostAfterMs / 2, lostAfterMs - graceMs - FENCE_MARGIN_MS);
}

async function resolveAll(host: string): Promise<string[]> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  try {
    const { lookup } = await import("node:dns/promises");
    return (await lookup(bare, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}

/** Whether one of the masters the agent is given is this host (a loopback address, or an address of one of its interfaces). */
export async function masterRunsHere(masters: readonly HostPort[], resolve: (host: string) => Promise<string[]>): Promise<boolean> {
  const local = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) local.add(a.address);
  for (const m of masters) {
    for (const addr of await resolve(m.host)) {
      const a = addr.startsWith("::ffff:") ? addr.slice(7) : addr;
      if (a.startsWith("127.") || a === "::1" || local.has(a)) return true;
    }
  }
  return false;
}
