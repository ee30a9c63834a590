/**
 * Process helpers shared by everything on the agent that spawns
 * (jobs, `execute`, health-check commands, journalctl): a child started
 * with `detached: true` leads its own session and process group, so one
 * signal to `-pid` reaches it and all it forked.
 */
import { constants as osConstants, userInfo } from "node:os";
import { logger } from "../../log/index.ts";
import { errorText } from "../control.ts";

const log = logger("agent");

/**
 * Sends `sig` to the process group `pid` leads; if the group cannot be
 * signalled (EPERM on an odd kernel), to the process alone. A group that is
 * gone already (ESRCH) is fine. `what` names the process for the log.
 */
export function signalGroup(pid: number, sig: NodeJS.Signals, what: string): void {
  try {
    process.kill(-pid, sig);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ESRCH") return; // the group is gone
    log.warn(`${what}: cannot send ${sig} to process group ${pid}: ${errorText(e)}; signalling the process alone`);
    try {
      process.kill(pid, sig);
    } catch {
      // gone as well
    }
  }
}

/** "SIGTERM" for a name or a number; null for none. At most 20 characters (the wire's bound). */
export function signalName(sig: NodeJS.Signals | number | null | undefined): string | null {
  if (sig === null || sig === undefined) return null;
  if (typeof sig === "string") return sig.slice(0, 20);
  const name = Object.entries(osConstants.signals).find(([, n]) => n === sig)?.[0];
  return (name ?? `signal ${sig}`).slice(0, 20);
}

/** Resolves after `ms` with false, or with `true` when `p` settles first. */
export function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      () => {
        clearTimeout(t);
        resolve(true);
      },
    );
  });
}

/** The agent's user name, for the USER of what it runs ("nobody" if the system cannot say). */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "nobody";
  }
}
