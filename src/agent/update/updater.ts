/**
 * `update_agent` on the agent (docs/api.md "Agent requests"): fetch the
 * binary from the master, check it, put it in place of the running one, and
 * ask for a restart. In order, each step's failure leaving the old binary
 * in place and running, answered `command_result {status: "failed", error}`:
 *
 *  1. only a compiled binary updates itself (run from source, process.execPath
 *     is bun);
 *  2. GET http://<master the request came from><path> with the agent's
 *     token, streamed to <dir of the executable>/.<name>.update-<random>;
 *  3. its SHA-256 must equal `sha256`;
 *  4. chmod 0755; `<tmp> version --json` must exit 0 and print `version`
 *     equal to the requested one (it runs on this host: right architecture,
 *     not truncated, not some other program);
 *  5. rename(tmp, executable): atomic, the same directory.
 * Then `command_result {status: "ok"}` and onReady(plan): the agent stops
 * (its usual stop path) and run.ts re-executes the new binary (restart.ts).
 * One update at a time; after a success, later ones are refused until the
 * restart.
 */
import { chmod, rename, unlink } from "node:fs/promises";
import type { ClientTls } from "../../config/index.ts";
import type { CommandResult, UpdateAgent } from "../../control/index.ts";
import { logger } from "../../log/index.ts";
import { errorText } from "../control.ts";
import { EXEC_KILL_GRACE_MS, runProcess } from "../exec/index.ts";
import { commandEnv, currentUser, type EnvSource } from "../jobs/index.ts";
import { downloadTo } from "./download.ts";
import { restartPlan, tempPathFor, updateUrl, versionProblem, type RestartPlan } from "./plan.ts";

const log = logger("agent");

export const VERSION_CHECK_TIMEOUT_MS = 30_000;
const VERSION_OUTPUT_BYTES = 64 * 1024;

export interface UpdaterOptions {
  /** The executable to replace (default process.execPath). */
  execPath: string;
  /** Whether this process is a compiled lava binary (plan.ts isCompiledBinary). */
  compiled: boolean;
  /** The agent's token, sent with the download (a function: the session token changes as it is refreshed). */
  token: string | undefined | (() => string | undefined);
  /** fetch()'s `tls` for an https master (agent.tls). */
  tls?: ClientTls | undefined;
  /** The final command_result (kept while the channel is down: the executor's deliver). */
  deliver: (r: CommandResult) => void;
  /** A verified binary is in place: stop and start again with `plan`. */
  onReady: (plan: RestartPlan) => void;
  /** For the restart plan (default process.argv / process.env). */
  argv?: readonly string[];
  env?: EnvSource;
  versionCheckTimeoutMs?: number;
  downloadTimeoutMs?: number;
}

export interface Updater {
  /** `masterHttpBase`: "http(s)://host:port" of the master the request came on. */
  update(msg: UpdateAgent, masterHttpBase: string): void;
  /** An update is being fetched or checked. */
  readonly busy: boolean;
  /** Cancels an update under way (it answers failed, its download is removed) and resolves when it has ended. */
  stop(): Promise<void>;
}

class Failed extends Error {}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function createUpdater(opts: UpdaterOptions): Updater {
  const env = opts.env ?? process.env;
  let current: string | null = null;
  let running: Promise<void> | null = null;
  let done = false;
  const abort = new AbortController();

  async function checkRuns(tmp: string, version: string): Promise<void> {
    let stdout = "";
    const decoder = new TextDecoder();
    const outcome = await runProcess({
      argv: [tmp, "version", "--json"],
      env: commandEnv(env, currentUser()),
      timeoutMs: opts.versionCheckTimeoutMs ?? VERSION_CHECK_TIMEOUT_MS,
      killGraceMs: EXEC_KILL_GRACE_MS,
      limitBytes: VERSION_OUTPUT_BYTES,
      onOutput: (s, b) => {
        if (s === "stdout") stdout += decoder.decode(b, { stream: true });
      },
      what: "the new binary's version check",
      signal: abort.signal,
    });
    if (abort.signal.aborted) throw new Failed("cancelled: the agent is stopping");
    if (!outcome.started) throw new Failed(`the new binary does not run on this host: ${outcome.message}`);
    if (outcome.timedOut) throw new Failed(`the new binary's "version --json" did not end within ${(opts.versionCheckTimeoutMs ?? VERSION_CHECK_TIMEOUT_MS) / 1000} s`);
    if (outcome.exitCode !== 0) throw new Failed(`the new binary's "version --json" ${outcome.signal ? `was killed by ${outcome.signal}` : `exited with ${outcome.exitCode}`}`);
    const problem = versionProblem(stdout, version);
    if (problem) throw new Failed(problem);
  }

  async function run(msg: UpdateAgent, masterHttpBase: string): Promise<RestartPlan> {
    const target = updateUrl(masterHttpBase, msg.path);
    if ("error" in target) throw new Failed(target.error);
    const tmp = tempPathFor(opts.execPath, randomHex(6));
    try {
      log.info(`update to lava ${msg.version}: downloading ${target.url}`);
      const got = await downloadTo(target.url, tmp, { token: typeof opts.token === "function" ? opts.token() : opts.token, tls: opts.tls, signal: abort.signal, ...(opts.downloadTimeoutMs ? { timeoutMs: opts.downloadTimeoutMs } : {}) }).catch((e) => {
        throw new Failed(abort.signal.aborted ? "cancelled: the agent is stopping" : errorText(e));
      });
      if (got.sha256 !== msg.sha256.toLowerCase()) throw new Failed(`checksum mismatch: the download (${got.bytes} bytes) has SHA-256 ${got.sha256}, the master announced ${msg.sha256}`);
      await chmod(tmp, 0o755);
      await checkRuns(tmp, msg.version);
      if (abort.signal.aborted) throw new Failed("cancelled: the agent is stopping");
      await rename(tmp, opts.execPath).catch((e) => {
        throw new Failed(`cannot replace ${opts.execPath}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`);
      });
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    return restartPlan(opts.execPath, opts.argv ?? process.argv, env, msg.version);
  }

  return {
    get busy() {
      return current !== null;
    },
    update(msg, masterHttpBase) {
      const t0 = performance.now();
      const fail = (error: string) => opts.deliver({ type: "command_result", requestId: msg.requestId, status: "failed", error: error.slice(0, 2000) });
      if (!opts.compiled) {
        return fail(`this agent runs from source (${opts.execPath} is the bun runtime, not a lava binary), so it cannot replace itself: update it the way it was installed`);
      }
      if (done) return fail(`an update was already installed; the agent is restarting into it`);
      if (current !== null) return fail(`an update is already in progress (request ${current}); try again when it has ended`);
      if (abort.signal.aborted) return fail("the agent is stopping");
      current = msg.requestId;
      running = run(msg, masterHttpBase).then(
        (plan) => {
          current = null;
          done = true;
          log.info(`update to lava ${msg.version} installed at ${opts.execPath}; restarting`);
          opts.deliver({ type: "command_result", requestId: msg.requestId, status: "ok", durationMs: Math.round(performance.now() - t0) });
          opts.onReady(plan);
        },
        (e) => {
          current = null;
          const why = e instanceof Failed ? e.message : `agent error: ${errorText(e)}`;
          log.warn(`update to lava ${msg.version} failed, keeping the running binary: ${why}`);
          fail(why);
        },
      );
    },
    async stop() {
      abort.abort();
      await running;
    },
  };
}
