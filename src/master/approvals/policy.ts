/**
 * Which requests wait for a second admin (docs/api.md "Approvals"). Pure.
 *
 * `master.exec.requireApproval` entries match argv[0] as `master.exec.deny`
 * entries do (normalised path; a bare name also matches any path ending in
 * it), because a held command that another spelling walks around holds
 * nothing; an entry with `*` or `?` is a glob, tried against the normalised
 * argv[0] and against its last path component ("*" holds every command,
 * "systemctl*" holds "/usr/bin/systemctl" too).
 */
import { posix } from "node:path";
import { globMatch } from "../../jobs/fit.ts";
import { denyMatches } from "../requests/policy.ts";

export function approvalMatches(entry: string, cmd: string): boolean {
  if (!/[*?]/.test(entry)) return denyMatches(entry, cmd);
  const normal = cmd.includes("/") ? posix.normalize(cmd) : cmd;
  return globMatch(entry, normal) || globMatch(entry, posix.basename(normal));
}

/** The first entry that holds `argv`, or null if it may run at once. */
export function execNeedsApproval(patterns: readonly string[], argv: readonly string[]): string | null {
  const cmd = argv[0] ?? "";
  return patterns.find((e) => approvalMatches(e, cmd)) ?? null;
}
