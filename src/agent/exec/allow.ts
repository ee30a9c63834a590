/**
 * The agent's own exec policy (design §5: "the agent's allowlist decides").
 *
 * The allowlist (agent.exec.allow) is matched by src/policy/allowlist.ts:
 * argv[0] exactly as written in an entry, and, for an entry written as a
 * list, each argument against its pattern. Nothing is normalised or
 * resolved for the allowlist, so nothing that is not written in it gets
 * through.
 *
 * The master's deny list (master.exec.deny, sent with each `execute`) is
 * the opposite case: a deny that another spelling walks around protects
 * nothing, so here it is compared with the command as this host will run
 * it: argv[0] looked up in PATH and every symlink resolved (`/bin/rm` and
 * `/usr/bin/rm` are one file on a merged-/usr system). It still cannot
 * stop another tool doing the same thing (`unlink`, `find -delete`, a
 * script): docs/security.md says what a deny list can and cannot promise.
 */
import { realpathSync } from "node:fs";
import { basename, posix } from "node:path";
import { entryText, matchAllowlist, type AllowEntry } from "../../policy/index.ts";
import { reasonText } from "../jobs/index.ts";

/** Whether agent.exec.allow lets argv run. */
export function commandAllowed(argv: readonly string[], allow: readonly AllowEntry[]): boolean {
  return matchAllowlist(argv, allow).ok;
}

/** Where an operator changes a setting, for refusal messages: the config file the agent read, or how to give one. */
export function configWhere(configFile: string | null, envName: string): string {
  return configFile ?? `the agent's config file (none was loaded: start it with --config FILE, or set ${envName})`;
}

/** The `error` of a refused `execute`: what to change, and where; names the entry that came closest. */
export function refusalText(argv: readonly string[], allow: readonly AllowEntry[], configFile: string | null, key = "agent.exec.allow", envName = "LAVA_EXEC_ALLOW"): string {
  const argv0 = argv[0] ?? "";
  const shown = JSON.stringify(reasonText(argv0, 200));
  const where = configWhere(configFile, envName);
  if (allow.length === 0) return `this host runs no commands: ${key} is empty; add ${shown} to ${key} in ${where} and restart the agent`;
  const verdict = matchAllowlist(argv, allow);
  if (!verdict.ok && verdict.closest) {
    return `${shown} is on ${key} only as ${entryText(verdict.closest.entry)}, and ${verdict.closest.why}; change that entry in ${where} and restart the agent`;
  }
  const kind = argv0.includes("/") ? "an exact path" : "a bare name (looked up in the agent's PATH)";
  return `${shown} is not allowed on this host: add it (${kind}) to ${key} in ${where} and restart the agent`;
}

/** The file a command name runs on this host: looked up in PATH when bare, symlinks resolved; null if it cannot be found. */
export function resolveCommand(argv0: string, path: string, cwd?: string): string | null {
  const found = argv0.includes("/") ? argv0 : Bun.which(argv0, { PATH: path });
  if (!found) return null;
  try {
    return realpathSync(cwd && !found.startsWith("/") ? posix.join(cwd, found) : found);
  } catch {
    return null;
  }
}

/**
 * The master.exec.deny entry that refuses argv[0] as this host resolves
 * it, or null. A bare entry refuses any command whose name, or whose
 * resolved file's name, it is; a path entry refuses the file it resolves to
 * (compared after normalising when it does not exist here).
 */
export function deniedBy(argv0: string, deny: readonly string[], path: string): string | null {
  if (deny.length === 0) return null;
  const real = resolveCommand(argv0, path);
  const names = new Set([basename(argv0), ...(real ? [basename(real)] : [])]);
  const normal = argv0.includes("/") ? posix.normalize(argv0) : null;
  for (const entry of deny) {
    if (!entry.includes("/")) {
      if (names.has(entry)) return entry;
      continue;
    }
    if (normal !== null && posix.normalize(entry) === normal) return entry;
    const target = resolveCommand(entry, path);
    if (real !== null && target !== null && target === real) return entry;
  }
  return null;
}

