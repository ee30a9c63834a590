import { describe, expect, test } from "bun:test";
import { mkdtempSync, symlinkSync, writeFileSync, chmodSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandAllowed, configWhere, refusalText } from "../../../src/agent/exec/index.ts";
import { deniedBy, resolveCommand } from "../../../src/agent/exec/allow.ts";

describe("agent.exec.allow matching", () => {
  const allow = ["uptime", "/usr/bin/df", "/opt/tools/check"];

  test("a bare entry matches exactly that bare name", () => {
    expect(commandAllowed(["uptime"], allow)).toBe(true);
    expect(commandAllowed(["uptim"], allow)).toBe(false);
    expect(commandAllowed(["uptime2"], allow)).toBe(false);
    expect(commandAllowed(["UPTIME"], allow)).toBe(false);
  });

  test("a path never matches a bare entry: /tmp/x/uptime, ./uptime, bin/uptime are refused", () => {
    expect(commandAllowed(["/tmp/x/uptime"], allow)).toBe(false);
    expect(commandAllowed(["./uptime"], allow)).toBe(false);
    expect(commandAllowed(["bin/uptime"], allow)).toBe(false);
    expect(commandAllowed(["/usr/bin/uptime"], allow)).toBe(false);
  });

  test("a path entry matches only that exact path, not the bare name, not another spelling of it", () => {
    expect(commandAllowed(["/usr/bin/df"], allow)).toBe(true);
    expect(commandAllowed(["df"], allow)).toBe(false);
    expect(commandAllowed(["/usr/bin/../bin/df"], allow)).toBe(false);
    expect(commandAllowed(["//usr/bin/df"], allow)).toBe(false);
    expect(commandAllowed(["/usr/bin/df "], allow)).toBe(false);
  });

  test("an empty allowlist refuses everything, and an empty argv[0] is never allowed", () => {
    expect(commandAllowed(["uptime"], [])).toBe(false);
    expect(commandAllowed(["/bin/true"], [])).toBe(false);
    expect(commandAllowed([""], ["", "uptime"])).toBe(false);
  });

  test("the refusal says what to change and where", () => {
    expect(refusalText(["/bin/rm"], allow, "/etc/lava/lava.yaml")).toBe(
      '"/bin/rm" is not allowed on this host: add it (an exact path) to agent.exec.allow in /etc/lava/lava.yaml and restart the agent',
    );
    expect(refusalText(["rm"], allow, "/etc/lava/lava.yaml")).toContain("a bare name (looked up in the agent's PATH)");
    expect(refusalText(["uptime"], [], "/etc/lava/lava.yaml")).toBe('this host runs no commands: agent.exec.allow is empty; add "uptime" to agent.exec.allow in /etc/lava/lava.yaml and restart the agent');
    expect(refusalText(["uptime"], [], null)).toContain("none was loaded: start it with --config FILE, or set LAVA_EXEC_ALLOW");
    expect(configWhere(null, "LAVA_LOGS_ALLOW")).toContain("LAVA_LOGS_ALLOW");
  });
});

describe("agent.exec.allow entries with argument patterns", () => {
  const allow = [["/usr/bin/systemctl", "restart|status", "nginx|php-fpm"], ["/usr/bin/uptime"], ["/usr/bin/journalctl", "-u", "[a-z0-9@.-]+", "..."]];

  test("each argument must match its pattern, anchored: allowing systemctl does not allow 'systemctl stop sshd'", () => {
    expect(commandAllowed(["/usr/bin/systemctl", "restart", "nginx"], allow)).toBe(true);
    expect(commandAllowed(["/usr/bin/systemctl", "status", "php-fpm"], allow)).toBe(true);
    expect(commandAllowed(["/usr/bin/systemctl", "stop", "sshd"], allow)).toBe(false);
    expect(commandAllowed(["/usr/bin/systemctl", "restart", "sshd"], allow)).toBe(false);
    // anchored: a pattern never matches a part of the argument
    expect(commandAllowed(["/usr/bin/systemctl", "restart", "nginx; reboot"], allow)).toBe(false);
    expect(commandAllowed(["/usr/bin/systemctl", "xrestart", "nginx"], allow)).toBe(false);
  });

  test("exactly as many arguments as patterns, unless the last is '...'", () => {
    expect(commandAllowed(["/usr/bin/uptime"], allow)).toBe(true);
    expect(commandAllowed(["/usr/bin/uptime", "-p"], allow)).toBe(false);
    expect(commandAllowed(["/usr/bin/systemctl", "restart"], allow)).toBe(false);
    expect(commandAllowed(["/usr/bin/systemctl", "restart", "nginx", "sshd"], allow)).toBe(false);
    expect(commandAllowed(["/usr/bin/journalctl", "-u", "nginx"], allow)).toBe(true);
    expect(commandAllowed(["/usr/bin/journalctl", "-u", "nginx", "-n", "50"], allow)).toBe(true);
    expect(commandAllowed(["/usr/bin/journalctl", "-f"], allow)).toBe(false);
  });

  test("a refusal names the entry that came closest and why", () => {
    const t = refusalText(["/usr/bin/systemctl", "restart", "sshd"], allow, "/etc/lava/lava.yaml");
    expect(t).toContain('["/usr/bin/systemctl", "restart|status", "nginx|php-fpm"]');
    expect(t).toContain('argument 2 "sshd" does not match "nginx|php-fpm"');
    expect(t).toContain("/etc/lava/lava.yaml");
    expect(refusalText(["/usr/bin/uptime", "-p"], allow, null)).toContain("takes 0 argument(s), not 1");
  });
});

describe("master.exec.deny on the agent: the file argv[0] resolves to", () => {
  const dir = mkdtempSync(join(tmpdir(), "lava-deny-"));
  mkdirSync(join(dir, "usr", "bin"), { recursive: true });
  const real = join(dir, "usr", "bin", "rm");
  writeFileSync(real, "#!/bin/sh\n");
  chmodSync(real, 0o755);
  // A merged-/usr layout: bin -> usr/bin
  symlinkSync(join(dir, "usr", "bin"), join(dir, "bin"));
  symlinkSync(real, join(dir, "usr", "bin", "zap"));
  const PATH = join(dir, "bin");

  test("a path entry refuses every spelling that resolves to the same file, symlinked directories included", () => {
    expect(resolveCommand(join(dir, "bin", "rm"), PATH)).toBe(real);
    expect(deniedBy(join(dir, "bin", "rm"), [real], PATH)).toBe(real);
    expect(deniedBy(real, [join(dir, "bin", "rm")], PATH)).toBe(join(dir, "bin", "rm"));
    expect(deniedBy(join(dir, "usr", "bin", "zap"), [real], PATH)).toBe(real);
  });

  test("a bare entry refuses the name, and a link whose target has that name; bare argv[0] is looked up in PATH", () => {
    expect(deniedBy("rm", ["rm"], PATH)).toBe("rm");
    expect(deniedBy("zap", ["rm"], PATH)).toBe("rm");
    expect(deniedBy(join(dir, "bin", "zap"), ["rm"], PATH)).toBe("rm");
    expect(deniedBy("/usr/bin/env", ["rm"], PATH)).toBeNull();
    expect(deniedBy("rm", [], PATH)).toBeNull();
  });
});
