/** The master's exec policy and fan-out target resolution. */
import { describe, expect, test } from "bun:test";
import { checkExecPolicy, denyMatches } from "../../src/master/requests/policy.ts";
import { commandMatches as allowMatches } from "../../src/policy/index.ts";
import { resolveTargets, summarizeNames, type TargetHost } from "../../src/master/requests/targets.ts";

describe("exec policy matching", () => {
  test("allow: an entry with '/' is that exact path; a bare entry only the bare name", () => {
    expect(allowMatches("/usr/bin/uptime", "/usr/bin/uptime")).toBe(true);
    expect(allowMatches("/usr/bin/uptime", "uptime")).toBe(false);
    expect(allowMatches("uptime", "uptime")).toBe(true);
    expect(allowMatches("uptime", "/usr/bin/uptime")).toBe(false);
    expect(allowMatches("uptime", "./uptime")).toBe(false);
    expect(allowMatches("/usr/bin/uptime", "/usr/bin/../bin/uptime")).toBe(false);
  });

  test("deny: other spellings of a denied command are refused too", () => {
    expect(denyMatches("rm", "rm")).toBe(true);
    expect(denyMatches("rm", "/bin/rm")).toBe(true);
    expect(denyMatches("rm", "./rm")).toBe(true);
    expect(denyMatches("rm", "rmdir")).toBe(false);
    expect(denyMatches("/bin/rm", "/bin//rm")).toBe(true);
    expect(denyMatches("/bin/rm", "/bin/./rm")).toBe(true);
    expect(denyMatches("/bin/rm", "/usr/bin/rm")).toBe(false);
    expect(denyMatches("/bin/rm", "rm")).toBe(false);
  });

  test("deny wins over allow; an empty allowlist leaves it to the agents", () => {
    expect(checkExecPolicy({ allow: [], deny: [] }, ["anything"])).toEqual({ ok: true });
    expect(checkExecPolicy({ allow: ["rm"], deny: ["rm"] }, ["rm", "-rf", "/"]).ok).toBe(false);
    const r = checkExecPolicy({ allow: ["/usr/bin/uptime"], deny: [] }, ["uptime"]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toContain("master.exec.allow");
    expect(checkExecPolicy({ allow: ["/usr/bin/uptime"], deny: [] }, ["/usr/bin/uptime", "-p"])).toEqual({ ok: true });
    const d = checkExecPolicy({ allow: [], deny: ["shutdown"] }, ["/sbin/shutdown", "now"]);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.detail).toContain("master.exec.deny entry 'shutdown'");
  });

  test("master.exec.allow takes argument patterns too; the refusal names the closest entry", () => {
    const policy = { allow: [["/usr/bin/systemctl", "restart", "nginx|php-fpm"]], deny: [] };
    expect(checkExecPolicy(policy, ["/usr/bin/systemctl", "restart", "nginx"])).toEqual({ ok: true });
    const r = checkExecPolicy(policy, ["/usr/bin/systemctl", "stop", "sshd"]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toContain('argument 1 "stop" does not match "restart"');
  });
});

describe("fan-out targets", () => {
  const hosts: TargetHost[] = ["a1", "a2", "b1"].map((h, i) => ({ hostname: h, hostId: i + 1, connected: h !== "a2", version: "1" }));
  const byName = new Map(hosts.map((h) => [h.hostname, h]));
  const queues = new Map([
    ["default", { name: "default", hosts: [], priority: 0, running: 0 }],
    ["as", { name: "as", hosts: ["a*"], priority: 0, running: 0 }],
  ]);

  test("named hosts keep their order, lose duplicates, and unknown names stay (as errors later)", () => {
    const r = resolveTargets({ hosts: ["b1", "zz", "a1", "b1"] }, byName, hosts, queues);
    if (!r.ok) throw new Error(r.detail);
    expect(r.targets.map((t) => [t.host, t.entry?.hostId ?? null])).toEqual([["b1", 3], ["zz", null], ["a1", 1]]);
    expect(r.summary).toBe("b1,zz,a1");
  });

  test("all, and a queue's pool; an unknown queue is an error naming the configured ones", () => {
    const all = resolveTargets({ all: true }, byName, hosts, queues);
    expect(all.ok && all.targets.map((t) => t.host)).toEqual(["a1", "a2", "b1"]);
    expect(all.ok && all.summary).toBe("all (3 hosts)");
    const q = resolveTargets({ queue: "as" }, byName, hosts, queues);
    expect(q.ok && q.targets.map((t) => t.host)).toEqual(["a1", "a2"]);
    const bad = resolveTargets({ queue: "nope" }, byName, hosts, queues);
    expect(bad).toEqual({ ok: false, error: "unknown_queue", detail: "no queue named 'nope' (configured: default, as)" });
  });

  test("long name lists are summarised for the audit log", () => {
    const names = Array.from({ length: 25 }, (_, i) => `n${i}`);
    expect(summarizeNames(names)).toBe("n0,n1,n2,n3,n4,n5,n6,n7,n8,n9,… (25 hosts)");
  });
});
