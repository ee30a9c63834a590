/**
 * One health report's checks (docs/api.md "Agent requests"): `agent`,
 * `memory`, `disk:<mountpoint>` per real local filesystem, and each
 * configured command check (Nagios plugin convention), run at once, each
 * with its own timeout. Never throws: what cannot be read is `unknown`
 * with the reason.
 */
import type { AgentConfig } from "../../config/index.ts";
import { VERSION } from "../../version.ts";
import { EXEC_KILL_GRACE_MS, runProcess } from "../exec/index.ts";
import { readProcSample } from "../procfs/index.ts";
import { spawnFailure, timeoutReason } from "../jobs/index.ts";
import { readDisks, type DiskSource } from "./disks.ts";
import { diskCheck, firstLine, formatUptime, memoryCheck, nagiosStatus, type Check, type Thresholds } from "./status.ts";

/** A check command's output kept, per stream: only its first line is used. */
const CHECK_OUTPUT_BYTES = 16 * 1024;
/** Keys of `health.checks` are at most 100 characters; at most 256 checks. */
const CHECK_NAME_CHARS_MAX = 100;
const CHECKS_MAX = 256;

export type HealthCheckCommand = AgentConfig["health"]["checks"][number];

export interface HealthSources {
  procRoot: string;
  disks: DiskSource;
  memory: Thresholds;
  disk: Thresholds;
  commands: readonly HealthCheckCommand[];
  /** The environment check commands run with. */
  env: Record<string, string>;
  /** ms the agent has been running. */
  uptimeMs: number;
  /** Aborting kills the check commands still running. */
  signal?: AbortSignal;
}

export async function runCheckCommand(c: HealthCheckCommand, env: Record<string, string>, signal?: AbortSignal): Promise<Check> {
  const text = { stdout: "", stderr: "" };
  const decoder = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  const timeoutMs = Math.round(c.timeout * 1000);
  const outcome = await runProcess({
    argv: c.argv,
    env,
    timeoutMs,
    killGraceMs: EXEC_KILL_GRACE_MS,
    limitBytes: CHECK_OUTPUT_BYTES,
    onOutput: (s, b) => (text[s] += decoder[s].decode(b, { stream: true })),
    what: `health check ${c.name}`,
    ...(signal ? { signal } : {}),
  });
  if (!outcome.started) return { status: "unknown", detail: spawnFailure(c.argv[0] ?? "", { code: outcome.code, message: outcome.message }, "the agent's PATH").reason ?? outcome.message };
  if (outcome.timedOut) return { status: "unknown", detail: `${timeoutReason(timeoutMs)} (killed)` };
  if (outcome.aborted) return { status: "unknown", detail: "cancelled: the agent is stopping" };
  const line = firstLine(text.stdout) || firstLine(text.stderr);
  if (outcome.signal !== null) return { status: "unknown", detail: `killed by ${outcome.signal}${line ? `: ${line}` : ""}` };
  return { status: nagiosStatus(outcome.exitCode), detail: line || `exit code ${outcome.exitCode}` };
}

function clipName(name: string): string {
  return name.length > CHECK_NAME_CHARS_MAX ? name.slice(0, CHECK_NAME_CHARS_MAX) : name;
}

export async function collectHealth(src: HealthSources): Promise<Record<string, Check>> {
  const checks: Record<string, Check> = {};
  checks.agent = { status: "ok", detail: `lava ${VERSION}, up ${formatUptime(src.uptimeMs)}` };
  const sample = readProcSample(src.procRoot);
  checks.memory = sample.ok ? memoryCheck(sample.value.meminfo, src.memory) : { status: "unknown", detail: sample.error };
  const disks = readDisks(src.disks);
  if (typeof disks === "string") checks.disk = { status: "unknown", detail: disks };
  else for (const d of disks) checks[clipName(`disk:${d.mountpoint}`)] = "usage" in d ? diskCheck(d.usage, src.disk) : { status: "unknown", detail: d.error };
  // A configured check named like a built-in one is reported as check:<name>, so neither hides the other.
  const room = Math.max(0, CHECKS_MAX - Object.keys(checks).length);
  const commands = src.commands.slice(0, room);
  const results = await Promise.all(commands.map((c) => runCheckCommand(c, src.env, src.signal)));
  commands.forEach((c, i) => {
    const key = clipName(Object.hasOwn(checks, c.name) ? `check:${c.name}` : c.name);
    checks[key] = results[i]!;
  });
  return checks;
}
