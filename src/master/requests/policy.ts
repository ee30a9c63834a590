/**
 * The master's exec policy (design §5: "the agent's allowlist decides, the
 * master's policy decides too"). Checked before anything is sent, so a
 * refused command reaches no host. Pure.
 *
 * Matching, as on the agent: an entry containing '/' names one exact path;
 * a bare entry ("uptime") matches only a bare argv[0] (the agent resolves
 * bare names on its PATH), never "/usr/bin/uptime". So the allowlist lets
 * through exactly what it names.
 *
 * The deny list is read more broadly, because a deny that a different
 * spelling walks around protects nothing: argv[0] is normalised
 * ("/bin//rm", "/bin/./rm" → "/bin/rm") before it is compared, and a bare
 * deny entry also matches any path ending in that name ("rm" refuses
 * "/bin/rm" and "./rm" too).
 */
import { posix } from "node:path";

export type PolicyVerdict = { ok: true } | { ok: false; detail: string };

export interface ExecPolicy {
  allow: readonly string[];
  deny: readonly string[];
}

/** Whether an allowlist entry lets `cmd` (argv[0]) through. */
export function allowMatches(entry: string, cmd: string): boolean {
  return entry === cmd;
}

/** Whether a deny entry refuses `cmd` (argv[0]). */
export function denyMatches(entry: string, cmd: string): boolean {
  if (entry === cmd) return true;
  const normal = cmd.includes("/") ? posix.normalize(cmd) : cmd;
  if (entry.includes("/")) return posix.normalize(entry) === normal;
  return posix.basename(normal) === entry;
}

export function checkExecPolicy(policy: ExecPolicy, argv: readonly string[]): PolicyVerdict {
  const cmd = argv[0] ?? "";
  const denied = policy.deny.find((e) => denyMatches(e, cmd));
  if (denied !== undefined) return { ok: false, detail: `master policy: '${cmd}' is refused by master.exec.deny entry '${denied}'` };
  if (policy.allow.length > 0 && !policy.allow.some((e) => allowMatches(e, cmd))) {
    return { ok: false, detail: `master policy: '${cmd}' is not on master.exec.allow (${policy.allow.join(", ")}); an entry with '/' matches that exact path, a bare name only the bare name` };
  }
  return { ok: true };
}
