/**
 * `execute` on the agent (design §5, docs/api.md "Agent requests"): the
 * allowlist decides (allow.ts), then argv runs directly (process.ts) with
 * the agent's clean command environment (jobs/env.ts); stdout and stderr go
 * to the master as `command_output` chunks while it runs (chunks.ts), each
 * stream up to the request's bound (else agent.exec.outputLimit); the end is
 * one `command_result`.
 *
 * - Timeout: SIGTERM to the group, SIGKILL `killGraceMs` (2 s) later;
 *   status "timeout" whatever the exit status then was.
 * - Spawn failure (not found, not executable): status "failed" with why.
 * - At most `maxRunning` (64) at once; more are refused ("busy"). A second
 *   `execute` with the requestId of one still running is ignored (the
 *   master's retry of a request this agent already has).
 * - Output chunks go out only while a session is registered (they are
 *   not kept); the final result, if it cannot be sent, is kept (results.ts,
 *   bounded) and sent after the next registration.
 * - stop(): every running command's group is killed (SIGTERM, SIGKILL after
 *   the grace); each ends "failed" (the agent stopped) and the result goes
 *   out if the channel is still up.
 *
 * `deploy` (docs/api.md "Deploy") runs a named action from agent.deploy
 * the same way (same bounds, output and result messages): its argv and env
 * come from this host's config, never from the master; the master's
 * parameters become LAVA_PARAM_<NAME> environment variables, and the
 * action is killed at the smaller of its own timeout and the master's.
 */
import type { CommandOutput, CommandResult, Deploy, Execute } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import { commandEnv, currentUser, reasonText, spawnFailure, timeoutReason, within, type EnvSource } from "../jobs/index.ts";
import { commandAllowed, deniedBy, refusalText } from "./allow.ts";
import type { AllowEntry } from "../../policy/index.ts";
import { Utf8Chunker } from "./chunks.ts";
import { runProcess, type StreamName } from "./process.ts";
import { ResultQueue, RESULTS_MAX } from "./results.ts";

const log = logger("agent");

export const EXEC_RUNNING_MAX = 64;
export const EXEC_KILL_GRACE_MS = 2_000;
/** Small reads are gathered this long before they go out as one chunk. */
export const OUTPUT_FLUSH_MS = 25;

/** One agent.deploy.<name> action (config). */
export interface DeployAction {
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  /** Seconds. */
  timeout: number;
}

/** The environment variable a deploy parameter arrives in: `branch` → LAVA_PARAM_BRANCH. */
export const paramEnvName = (name: string): string => `LAVA_PARAM_${name.toUpperCase()}`;

export interface ExecutorOptions {
  /** agent.exec.allow */
  allow: readonly AllowEntry[];
  /** agent.deploy: the actions `deploy` may run. */
  deploy?: Readonly<Record<string, DeployAction>>;
  /** agent.exec.outputLimit: bytes per stream when the request names none. */
  outputLimitBytes: number;
  /** The config file the agent read, named in refusals. */
  configFile: string | null;
  /** Sends on the registered session; false if there is none (or the socket would not take it). */
  send: (msg: CommandOutput | CommandResult) => boolean;
  /** Where PATH, HOME, LANG, USER come from (default process.env). */
  env?: EnvSource;
  runningMax?: number;
  killGraceMs?: number;
  resultsMax?: number;
  flushMs?: number;
}

export interface ExecutorStats {
  running: number;
  /** Results waiting for a registered session. */
  resultsKept: number;
  resultsDropped: number;
}

export interface Executor {
  execute(msg: Execute): void;
  /** Runs agent.deploy.<msg.name> with the master's parameters in its environment. */
  deploy(msg: Deploy): void;
  /** A final result for the master: sent now if possible, else kept until flush(). Also used for update_agent's answer. */
  deliver(result: CommandResult): void;
  /** Sends the kept results (after a registration); returns how many went. */
  flush(): number;
  stats(): ExecutorStats;
  /** Kills every running command and resolves when they have ended (bounded). Later requests are refused. Idempotent. */
  stop(reason: string): Promise<void>;
}

interface Running {
  readonly abort: AbortController;
  stopReason: string | null;
  readonly ended: Promise<void>;
}

export function createExecutor(opts: ExecutorOptions): Executor {
  const runningMax = opts.runningMax ?? EXEC_RUNNING_MAX;
  const killGraceMs = opts.killGraceMs ?? EXEC_KILL_GRACE_MS;
  const flushMs = opts.flushMs ?? OUTPUT_FLUSH_MS;
  const agentEnv = opts.env ?? process.env;
  const user = currentUser();
  const kept = new ResultQueue(opts.resultsMax ?? RESULTS_MAX);
  const running = new Map<string, Running>();
  let stopping: Promise<void> | null = null;
  let stopReason = "agent stopping";

  function deliver(result: CommandResult): void {
    if (opts.send(result)) return;
    const dropped = kept.push(result);
    log.debug(`command ${result.requestId} ended (${result.status}) while no master is connected; sent after the next registration`);
    if (dropped > 0) log.warn(`kept results over ${opts.resultsMax ?? RESULTS_MAX}: dropped the ${dropped} oldest; the master will time those requests out`);
  }

  /** Output of one request: gathered per stream, sent in order, always before the result. */
  function outputPump(requestId: string) {
    const chunkers: Record<StreamName, Utf8Chunker> = { stdout: new Utf8Chunker(), stderr: new Utf8Chunker() };
    let timer: ReturnType<typeof setTimeout> | null = null;
    const emit = (stream: StreamName, data: string) => {
      if (data !== "") opts.send({ type: "command_output", requestId, stream, data });
    };
    const flushAll = (end: boolean) => {
      if (timer) clearTimeout(timer);
      timer = null;
      for (const s of ["stdout", "stderr"] as const) emit(s, chunkers[s].flush(end));
    };
    return {
      push(stream: StreamName, bytes: Uint8Array) {
        for (const c of chunkers[stream].push(bytes)) emit(stream, c);
        if (timer === null && chunkers[stream].size > 0) timer = setTimeout(() => flushAll(false), flushMs);
      },
      end: () => flushAll(true),
    };
  }

  /** What runs for one request, once it is allowed. */
  interface RunSpec {
    requestId: string;
    argv: readonly string[];
    env: Record<string, string>;
    timeoutMs: number;
    limitBytes: number;
  }

  async function run(msg: RunSpec, r: Running): Promise<void> {
    const argv0 = msg.argv[0]!;
    const pump = outputPump(msg.requestId);
    const outcome = await runProcess({
      argv: [...msg.argv],
      env: msg.env,
      timeoutMs: msg.timeoutMs,
      killGraceMs,
      limitBytes: msg.limitBytes,
      onOutput: (stream, bytes) => pump.push(stream, bytes),
      signal: r.abort.signal,
      what: `command ${msg.requestId}`,
    });
    pump.end();
    const base = { type: "command_result", requestId: msg.requestId } as const;
    if (!outcome.started) {
      const why = spawnFailure(argv0, { code: outcome.code, message: outcome.message }, "the agent's PATH").reason ?? outcome.message;
      deliver({ ...base, status: "failed", error: why });
      return;
    }
    const common = { exitCode: outcome.exitCode, signal: outcome.signal, durationMs: outcome.durationMs, stdoutTruncated: outcome.stdoutTruncated, stderrTruncated: outcome.stderrTruncated };
    if (outcome.timedOut) deliver({ ...base, status: "timeout", ...common, error: `${timeoutReason(msg.timeoutMs)}: the process group was killed` });
    else if (r.stopReason !== null) deliver({ ...base, status: "failed", ...common, error: `killed: ${r.stopReason}` });
    else deliver({ ...base, status: "ok", ...common });
    log.debug(`command ${msg.requestId} ended: ${outcome.timedOut ? "timeout" : outcome.signal ?? `exit ${outcome.exitCode}`}`);
  }

  /** Starts a request that passed its checks (or refuses it: stopping, busy); a duplicate requestId is ignored. */
  function start(spec: RunSpec, refuse: (error: string) => void): void {
    if (running.size >= runningMax) return refuse(`busy: ${running.size} commands already running on this host (at most ${runningMax}); try again when some have ended`);
    let markEnded!: () => void;
    const r: Running = { abort: new AbortController(), stopReason: null, ended: new Promise<void>((res) => (markEnded = res)) };
    running.set(spec.requestId, r);
    void run(spec, r)
      .catch((e) => deliver({ type: "command_result", requestId: spec.requestId, status: "failed", error: reasonText(`agent error: ${e instanceof Error ? e.message : String(e)}`, 2000) }))
      .finally(() => {
        running.delete(spec.requestId);
        markEnded();
      });
  }

  /** Refusal for a request, or null if it may be looked at (not stopping, not a duplicate). */
  function admit(kind: string, requestId: string): ((error: string) => void) | null {
    const refuse = (error: string) => deliver({ type: "command_result", requestId, status: "refused", error });
    if (stopping) {
      refuse(`the agent is stopping (${stopReason}); try again once it is back`);
      return null;
    }
    if (running.has(requestId)) {
      log.debug(`${kind} ${requestId} ignored: already running`);
      return null;
    }
    return refuse;
  }

  return {
    execute(msg) {
      const argv0 = msg.argv[0] ?? "";
      const refuse = admit("execute", msg.requestId);
      if (!refuse) return;
      if (!commandAllowed(msg.argv, opts.allow)) {
        log.info(`refused execute ${msg.requestId} of ${JSON.stringify(reasonText(argv0, 200))}: not on agent.exec.allow`);
        return refuse(refusalText(msg.argv, opts.allow, opts.configFile));
      }
      // The master checked its deny list against the text of argv[0]; here it meets the file that would run.
      const denied = deniedBy(argv0, msg.deny ?? [], commandEnv(agentEnv, user).PATH!);
      if (denied !== null) {
        log.info(`refused execute ${msg.requestId} of ${JSON.stringify(reasonText(argv0, 200))}: master.exec.deny entry ${JSON.stringify(denied)}`);
        return refuse(`master policy: ${JSON.stringify(reasonText(argv0, 200))} resolves on this host to what master.exec.deny entry ${JSON.stringify(denied)} refuses`);
      }
      start({ requestId: msg.requestId, argv: msg.argv, env: commandEnv(agentEnv, user), timeoutMs: msg.timeoutMs, limitBytes: msg.outputLimitBytes ?? opts.outputLimitBytes }, refuse);
    },

    deploy(msg) {
      const refuse = admit("deploy", msg.requestId);
      if (!refuse) return;
      const action = Object.hasOwn(opts.deploy ?? {}, msg.name) ? opts.deploy![msg.name] : undefined;
      if (!action) {
        log.info(`refused deploy ${msg.requestId}: no action '${msg.name}' in agent.deploy`);
        const known = Object.keys(opts.deploy ?? {});
        return refuse(`no deploy action '${msg.name}' on this host (${known.length ? `it has ${known.join(", ")}` : "it has none"}): add agent.deploy.${msg.name} {argv, env, timeout} to ${opts.configFile ?? "its config file"} and restart the agent`);
      }
      // Parameters only as environment variables, under their own prefix: they can set no PATH or LD_PRELOAD.
      const env: Record<string, string> = { ...commandEnv(agentEnv, user), ...action.env, LAVA_DEPLOY: msg.name };
      for (const [k, val] of Object.entries(msg.params)) env[paramEnvName(k)] = val;
      const timeoutMs = Math.min(Math.round(action.timeout * 1000), msg.timeoutMs ?? Number.MAX_SAFE_INTEGER);
      log.info(`deploy ${msg.name} (${msg.requestId}): ${action.argv.join(" ")}${Object.keys(msg.params).length ? ` with ${Object.keys(msg.params).map(paramEnvName).join(", ")}` : ""}`);
      start({ requestId: msg.requestId, argv: action.argv, env, timeoutMs, limitBytes: opts.outputLimitBytes }, refuse);
    },

    deliver,

    flush() {
      const n = kept.flush(opts.send);
      if (n > 0) log.info(`sent ${n} command result(s) kept while disconnected`);
      return n;
    },

    stats() {
      return { running: running.size, resultsKept: kept.size, resultsDropped: kept.droppedTotal };
    },

    stop(reason) {
      if (stopping) return stopping;
      stopReason = reason;
      const all = [...running.values()];
      stopping = (async () => {
        if (all.length > 0) log.info(`killing ${all.length} running command(s): ${reason}`);
        for (const r of all) {
          r.stopReason = reason;
          r.abort.abort();
        }
        const boundMs = killGraceMs + 3_000;
        if (!(await within(Promise.all(all.map((r) => r.ended)), boundMs))) log.warn(`${running.size} command(s) had not ended ${boundMs / 1000} s after the agent began stopping`);
      })();
      return stopping;
    },
  };
}
