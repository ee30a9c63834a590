/**
 * The master's exec policy (design §5: "the agent's allowlist decides, the
 * master's policy decides too"). Checked before anything is sent, so a
 * refused command reaches no host. Pure.
 *
 * The allowlist is matched as on the agent (src/policy/allowlist.ts): an
 * entry containing '/' names one exact path; a bare entry ("uptime")
 * matches only a bare argv[0], never "/usr/bin/uptime"; an entry written as
 * a list also constrains the arguments. So it lets through exactly what it
 * names.
 *
 * The deny list is read more broadly, because a deny that a different
 * spelling walks around protects nothing: argv[0] is normalised
 * ("/bin//rm", "/bin/./rm" → "/bin/rm") before it is compared, and a bare
 * deny entry also matches any path ending in that name ("rm" refuses
 * "/bin/rm" and "./rm" too).
 */
import { posix } from "node:path";
import { entryText, matchAllowlist, type AllowEntry } from "../../policy/index.ts";

export type PolicyVerdict = { ok: true } | { ok: false; detail: string };

export interface ExecPolicy {
  allow: readonly AllowEntry[];
  deny: readonly string[];
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
  if (policy.allow.length > 0) {
    const v = matchAllowlist(argv, policy.allow);
    if (!v.ok && v.closest) return { ok: false, detail: `master policy: '${cmd}' is on master.exec.allow only as ${entryText(v.closest.entry)}, and ${v.closest.why}` };
    if (!v.ok) return { ok: false, detail: `master policy: '${cmd}' is not on master.exec.allow (${policy.allow.map(entryText).join(", ")}); an entry with '/' matches that exact path, a bare name only the bare name` };
  }
  return { ok: true };
}
