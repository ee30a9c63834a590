/** The one allowlist matcher (src/policy/allowlist.ts), on its own: pure cases, no agent or master. */
import { describe, expect, test } from "bun:test";
import { argPattern, entryProblem, entryText, matchAllowlist, REST, type AllowEntry } from "../../src/policy/index.ts";

describe("matchAllowlist", () => {
  const list: AllowEntry[] = ["uptime", ["/usr/bin/systemctl", "restart|status", "nginx|php-fpm"], ["/usr/bin/journalctl", "-u", "[a-z0-9@.-]+", REST], ["/usr/bin/true"]];

  test("a string entry allows its command with any arguments; an empty list allows nothing", () => {
    expect(matchAllowlist(["uptime", "-p"], list)).toEqual({ ok: true, entry: "uptime" });
    expect(matchAllowlist(["uptime"], [])).toEqual({ ok: false, closest: null });
  });

  test("patterns are anchored at both ends: an alternative cannot be widened by a prefix or suffix", () => {
    expect(matchAllowlist(["/usr/bin/systemctl", "restart", "nginx"], list).ok).toBe(true);
    for (const arg of ["nginx2", "xnginx", "nginx;rm", "php-fpm\n", "php-fpm|sshd"]) {
      expect(matchAllowlist(["/usr/bin/systemctl", "restart", arg], list).ok).toBe(false);
    }
    expect(argPattern("a|b").test("ab")).toBe(false);
  });

  test("without '...' the argument count is exact; with it, any further arguments, none included", () => {
    expect(matchAllowlist(["/usr/bin/true"], list).ok).toBe(true);
    expect(matchAllowlist(["/usr/bin/true", "x"], list).ok).toBe(false);
    expect(matchAllowlist(["/usr/bin/systemctl", "restart", "nginx", "--now"], list).ok).toBe(false);
    expect(matchAllowlist(["/usr/bin/journalctl", "-u", "nginx.service"], list).ok).toBe(true);
    expect(matchAllowlist(["/usr/bin/journalctl", "-u", "nginx.service", "-n", "50"], list).ok).toBe(true);
  });

  test("a path matches only a path entry and a bare name only a bare entry", () => {
    expect(matchAllowlist(["/usr/bin/uptime"], list)).toEqual({ ok: false, closest: null });
    expect(matchAllowlist(["systemctl", "restart", "nginx"], list)).toEqual({ ok: false, closest: null });
  });

  test("a refusal names the entry that matched the most arguments, and why it stopped", () => {
    const twoEntries: AllowEntry[] = [["/usr/bin/systemctl", "status"], ["/usr/bin/systemctl", "restart", "nginx"]];
    const v = matchAllowlist(["/usr/bin/systemctl", "restart", "sshd"], twoEntries);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.closest?.entry).toEqual(["/usr/bin/systemctl", "restart", "nginx"]);
    expect(v.closest?.why).toBe('argument 2 "sshd" does not match "nginx"');
    const missing = matchAllowlist(["/usr/bin/systemctl", "restart"], twoEntries);
    expect(!missing.ok && missing.closest?.why).toBe('argument 2 is missing (the entry wants "nginx")');
  });
});

describe("entryProblem and entryText", () => {
  test("malformed entries are named before any request (config validation uses this)", () => {
    expect(entryProblem([])).toContain("at least the command");
    expect(entryProblem([""])).toContain("must not be empty");
    expect(entryProblem(["/bin/x", REST, "a"])).toContain("may only be the last pattern");
    expect(entryProblem(["/bin/x", "("])).toContain('argument pattern "(" is not a valid regular expression');
    expect(entryProblem(["/bin/x", "a|b", REST])).toBeNull();
  });

  test("entries are shown as an operator writes them in YAML", () => {
    expect(entryText("uptime")).toBe("uptime");
    expect(entryText(["/usr/bin/systemctl", "restart", "nginx|php-fpm"])).toBe('["/usr/bin/systemctl", "restart", "nginx|php-fpm"]');
  });
});
