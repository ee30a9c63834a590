import { describe, expect, test } from "bun:test";
import { commandAllowed, configWhere, refusalText } from "../../../src/agent/exec/index.ts";

describe("agent.exec.allow matching", () => {
  const allow = ["uptime", "/usr/bin/df", "/opt/tools/check"];

  test("a bare entry matches exactly that bare name", () => {
    expect(commandAllowed("uptime", allow)).toBe(true);
    expect(commandAllowed("uptim", allow)).toBe(false);
    expect(commandAllowed("uptime2", allow)).toBe(false);
    expect(commandAllowed("UPTIME", allow)).toBe(false);
  });

  test("a path never matches a bare entry: /tmp/x/uptime, ./uptime, bin/uptime are refused", () => {
    expect(commandAllowed("/tmp/x/uptime", allow)).toBe(false);
    expect(commandAllowed("./uptime", allow)).toBe(false);
    expect(commandAllowed("bin/uptime", allow)).toBe(false);
    expect(commandAllowed("/usr/bin/uptime", allow)).toBe(false);
  });

  test("a path entry matches only that exact path, not the bare name, not another spelling of it", () => {
    expect(commandAllowed("/usr/bin/df", allow)).toBe(true);
    expect(commandAllowed("df", allow)).toBe(false);
    expect(commandAllowed("/usr/bin/../bin/df", allow)).toBe(false);
    expect(commandAllowed("//usr/bin/df", allow)).toBe(false);
    expect(commandAllowed("/usr/bin/df ", allow)).toBe(false);
  });

  test("an empty allowlist refuses everything, and an empty argv[0] is never allowed", () => {
    expect(commandAllowed("uptime", [])).toBe(false);
    expect(commandAllowed("/bin/true", [])).toBe(false);
    expect(commandAllowed("", ["", "uptime"])).toBe(false);
  });

  test("the refusal says what to change and where", () => {
    expect(refusalText("/bin/rm", allow, "/etc/lava/lava.yaml")).toBe(
      '"/bin/rm" is not allowed on this host: add it (an exact path) to agent.exec.allow in /etc/lava/lava.yaml and restart the agent',
    );
    expect(refusalText("rm", allow, "/etc/lava/lava.yaml")).toContain("a bare name (looked up in the agent's PATH)");
    expect(refusalText("uptime", [], "/etc/lava/lava.yaml")).toBe('this host runs no commands: agent.exec.allow is empty; add "uptime" to agent.exec.allow in /etc/lava/lava.yaml and restart the agent');
    expect(refusalText("uptime", [], null)).toContain("none was loaded: start it with --config FILE, or set LAVA_EXEC_ALLOW");
    expect(configWhere(null, "LAVA_LOGS_ALLOW")).toContain("LAVA_LOGS_ALLOW");
  });
});
