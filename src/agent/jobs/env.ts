/**
 * The environment a job runs with. Pure.
 *
 * Decision: a minimal clean environment, not the agent's. The agent's own
 * environment may hold its credentials (LAVA_TOKEN, the cluster secret
 * location, cloud keys of the service account) and settings meant for the
 * agent only (LD_PRELOAD, proxies); a job must not inherit them by
 * accident. A job gets:
 *   PATH, LANG               from the agent's environment, or a safe default;
 *   HOME, USER, LOGNAME      of the Unix user it runs as (users.ts);
 *   msg.env                  on top (it may replace any of the above);
 *   CUDA_VISIBLE_DEVICES (and ROCR_VISIBLE_DEVICES on AMD)   the GPUs it holds;
 *   LAVA_JOB_ID, LAVA_JOB_ATTEMPT, LAVA_ARRAY_JOB_ID, LAVA_ARRAY_INDEX,
 *   LAVA_JOB_NAME            last, so a job can always tell which attempt it is.
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

/** Who the job runs as, for HOME, USER and LOGNAME. */
export interface JobIdentity {
  name: string;
  home: string;
}

/**
 * A job's environment: PATH and LANG from the agent's (or defaults); HOME,
 * USER and LOGNAME of the user it runs as; the job's own `env` on top;
 * then what lava decides and a job cannot override: the GPUs it was given
 * (`devices`) and the LAVA_* variables.
 */
export function jobEnv(
  agentEnv: EnvSource,
  msg: Pick<RunJob, "jobId" | "attempt" | "env" | "arrayId" | "arrayIndex" | "name">,
  user: JobIdentity,
  devices: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: agentEnv.PATH || DEFAULT_PATH,
    LANG: agentEnv.LANG || "C.UTF-8",
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
  };
  for (const [k, val] of Object.entries(msg.env ?? {})) env[k] = val;
  for (const [k, val] of Object.entries(devices)) env[k] = val;
  env.LAVA_JOB_ID = String(msg.jobId);
  env.LAVA_JOB_ATTEMPT = String(msg.attempt);
  if (msg.arrayId !== undefined) env.LAVA_ARRAY_JOB_ID = String(msg.arrayId);
  if (msg.arrayIndex !== undefined) env.LAVA_ARRAY_INDEX = String(msg.arrayIndex);
  if (msg.name !== undefined) env.LAVA_JOB_NAME = msg.name;
  return env;
}
