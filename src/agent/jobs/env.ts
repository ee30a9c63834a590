/**
 * The environment a job runs with. Pure.
 *
 * Decision: a minimal clean environment, not the agent's. The agent's own
 * environment may hold its credentials (LAVA_TOKEN, the cluster secret
 * location, cloud keys of the service account) and settings meant for the
 * agent only (LD_PRELOAD, proxies); a job must not inherit them by
 * accident. A job gets:
 *   PATH, HOME, LANG, USER   from the agent's environment, or a safe default;
 *   msg.env                  on top (it may replace any of the above);
 *   LAVA_JOB_ID, LAVA_JOB_ATTEMPT   last, so a job can always tell which attempt it is.
 */
import type { RunJob } from "../../control/index.ts";

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export type EnvSource = Readonly<Record<string, string | undefined>>;

/**
 * PATH, HOME, LANG and USER from the agent's environment, or a safe default:
 * the whole environment of what the agent runs for `execute`, health checks
 * and journalctl, and the base of a job's.
 */
export function commandEnv(agentEnv: EnvSource, user: string): Record<string, string> {
  return {
    PATH: agentEnv.PATH || DEFAULT_PATH,
    HOME: agentEnv.HOME || "/",
    LANG: agentEnv.LANG || "C.UTF-8",
    USER: agentEnv.USER || user,
  };
}

export function jobEnv(agentEnv: EnvSource, msg: Pick<RunJob, "jobId" | "attempt" | "env">, user: string): Record<string, string> {
  const env = commandEnv(agentEnv, user);
  for (const [k, val] of Object.entries(msg.env ?? {})) env[k] = val;
  env.LAVA_JOB_ID = String(msg.jobId);
  env.LAVA_JOB_ATTEMPT = String(msg.attempt);
  return env;
}
