/**
 * Which Unix user a job runs as (docs/jobs.md "Who a job runs as").
 *
 * By default `agent.jobs.user` (nobody); `agent.jobs.users` maps the
 * submitting token's subject to a user of its own. Root only with
 * `agent.jobs.allowRoot: true`: otherwise any admin token would be a root
 * shell on every host. An agent that is not root cannot switch users: its
 * jobs run as the agent's own user, and it says so at start-up.
 *
 * parsePasswd and chooseJobUser are pure; lookupUser reads /etc/passwd and
 * falls back to `getent passwd` (NSS: LDAP, sssd), cached.
 */
import { readFileSync } from "node:fs";

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface JobUserPolicy {
  user: string;
  users: Readonly<Record<string, string>>;
  allowRoot: boolean;
}

export type JobUser = { ok: true; user: UnixUser; switchTo: boolean } | { ok: false; reason: string };

export function parsePasswdLine(line: string): UnixUser | null {
  const f = line.split(":");
  if (f.length < 7) return null;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!f[0] || !Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0) return null;
  return { name: f[0], uid, gid, home: f[5] || "/" };
}

export function parsePasswd(text: string): Map<string, UnixUser> {
  const out = new Map<string, UnixUser>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const u = parsePasswdLine(line);
    if (u && !out.has(u.name)) out.set(u.name, u);
  }
  return out;
}

const cache = new Map<string, { user: UnixUser | null; atMs: number }>();
const CACHE_MS = 60_000;

/** The user named, or null if this host has none by that name. */
export function lookupUser(name: string, passwdPath = "/etc/passwd"): UnixUser | null {
  const hit = cache.get(name);
  const now = Date.now();
  if (hit && now - hit.atMs < CACHE_MS) return hit.user;
  let user: UnixUser | null = null;
  try {
    user = parsePasswd(readFileSync(passwdPath, "utf8")).get(name) ?? null;
  } catch {
    // no readable passwd file: ask NSS
  }
  if (!user && /^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(name)) {
    try {
      const r = Bun.spawnSync(["getent", "passwd", name], { stdout: "pipe", stderr: "ignore" });
      if (r.exitCode === 0) user = parsePasswdLine(r.stdout.toString().trim());
    } catch {
      // no getent
    }
  }
  if (cache.size > 1000) cache.clear();
  cache.set(name, { user, atMs: now });
  return user;
}

/**
 * The user a job of `subject` runs as. `self` is the agent's own user;
 * `agentUid` 0 means the agent can switch.
 */
export function chooseJobUser(subject: string | undefined, policy: JobUserPolicy, agentUid: number, self: UnixUser, lookup: (name: string) => UnixUser | null): JobUser {
  if (agentUid !== 0) return { ok: true, user: self, switchTo: false };
  // Own keys only: a subject such as "constructor" must not find Object's.
  const mapped = subject !== undefined && Object.hasOwn(policy.users, subject) ? policy.users[subject] : undefined;
  const name = mapped ?? policy.user;
  const where = mapped !== undefined ? `agent.jobs.users.${subject}` : "agent.jobs.user";
  const user = lookup(name);
  if (!user) return { ok: false, reason: `no Unix user "${name}" on this host (${where}); create it or change ${where}` };
  if (user.uid === 0 && !policy.allowRoot) {
    return { ok: false, reason: `refusing to run a job as root ("${name}", from ${where}): set agent.jobs.allowRoot: true on this host to allow it` };
  }
  return { ok: true, user, switchTo: true };
}
