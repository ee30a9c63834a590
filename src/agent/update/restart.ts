/**
 * Starting again as the new binary, after the agent has stopped (run.ts).
 *
 * Bun 1.4.5 has process.execve (the Node ≥ 22.15 API): the process image is
 * replaced in place, same pid, same argv and environment, stdin/stdout/
 * stderr kept; a supervisor (systemd, runit, a container runtime) sees the
 * same process carry on. Without it (or if execve fails), the new binary is
 * spawned detached with the same argv, environment and stdio, and this
 * process returns to main, which exits. Under systemd with Restart=always,
 * plain exiting is enough: the unit is restarted from the (new) file.
 */
import { logger } from "../../log/index.ts";
import { errorText } from "../control.ts";
import type { RestartPlan } from "./plan.ts";

const log = logger("agent");

export type RestartHow = "spawned";

/** Does not return when execve works; returns "spawned" after starting the new binary as a child (the caller then exits). */
export function restartInto(plan: RestartPlan): RestartHow {
  if (typeof process.execve === "function") {
    try {
      log.info(`re-executing ${plan.execPath} (lava ${plan.version})`);
      process.execve(plan.execPath, plan.argv, plan.env);
    } catch (e) {
      log.warn(`execve ${plan.execPath} failed (${errorText(e)}); starting it as a new process instead`);
    }
  }
  const child = Bun.spawn(plan.argv, { env: plan.env, stdio: ["inherit", "inherit", "inherit"], detached: true });
  child.unref();
  log.info(`started lava ${plan.version} as pid ${child.pid}; this process exits`);
  return "spawned";
}
