/**
 * The agent's own exec policy (design §5: "the agent's allowlist decides").
 * Pure.
 *
 * An entry with a '/' is a path and matches an argv[0] that is exactly that
 * path; an entry without one is a bare name and matches an argv[0] that is
 * exactly that name, which the agent then looks up in its PATH. So
 * `uptime` allows `uptime` (whatever PATH finds) but not `/tmp/x/uptime`,
 * and `/usr/bin/uptime` allows only `/usr/bin/uptime`, not the bare name:
 * no path is normalised or resolved, so nothing that is not written in the
 * list can get through. An empty list refuses everything.
 */
import { reasonText } from "../jobs/index.ts";

export function commandAllowed(argv0: string, allow: readonly string[]): boolean {
  if (argv0 === "") return false;
  const isPath = argv0.includes("/");
  // Paths only match path entries, bare names only bare entries; both exactly.
  return allow.some((entry) => entry.includes("/") === isPath && entry === argv0);
}

/** Where an operator changes a setting, for refusal messages: the config file the agent read, or how to give one. */
export function configWhere(configFile: string | null, envName: string): string {
  return configFile ?? `the agent's config file (none was loaded: start it with --config FILE, or set ${envName})`;
}

/** The `error` of a refused `execute`: what to change, and where. */
export function refusalText(argv0: string, allow: readonly string[], configFile: string | null): string {
  const shown = JSON.stringify(reasonText(argv0, 200));
  const where = configWhere(configFile, "LAVA_EXEC_ALLOW");
  if (allow.length === 0) return `this host runs no commands: agent.exec.allow is empty; add ${shown} to agent.exec.allow in ${where} and restart the agent`;
  const kind = argv0.includes("/") ? "an exact path" : "a bare name (looked up in the agent's PATH)";
  return `${shown} is not allowed on this host: add it (${kind}) to agent.exec.allow in ${where} and restart the agent`;
}
