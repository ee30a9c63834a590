/**
 * `deploy` on the agent (src/agent/exec/executor.ts): the action's argv and
 * env come from the config; parameters arrive only as LAVA_PARAM_* (they
 * cannot set PATH or LD_PRELOAD); unknown actions are refused; the action's
 * own timeout holds.
 */
import { expect, test } from "bun:test";
import { createExecutor, type DeployAction } from "../../src/agent/exec/executor.ts";
import type { CommandOutput, CommandResult } from "../../src/control/index.ts";
import { waitFor } from "../helpers/wait.ts";

function rig(deploy: Record<string, DeployAction>) {
  const out: (CommandOutput | CommandResult)[] = [];
  const ex = createExecutor({ allow: [], deploy, outputLimitBytes: 1 << 20, configFile: "/etc/lava/lava.yaml", send: (m) => (out.push(m), true), env: { PATH: "/usr/bin:/bin", HOME: "/root" } });
  const result = (id: string) => waitFor(() => out.find((m): m is CommandResult => m.type === "command_result" && m.requestId === id), 5000, `result of ${id}`);
  const stdout = (id: string) => out.filter((m): m is CommandOutput => m.type === "command_output" && m.requestId === id && m.stream === "stdout").map((m) => m.data).join("");
  return { ex, result, stdout };
}

test("parameters arrive as LAVA_PARAM_<NAME>; they cannot replace PATH or the action's env", async () => {
  const r = rig({ env: { argv: ["/usr/bin/env"], env: { SITE: "eu" }, timeout: 10 } });
  r.ex.deploy({ type: "deploy", requestId: "d1", name: "env", params: { branch: "main", path: "/tmp/evil", site: "us" } });
  expect((await r.result("d1")).status).toBe("ok");
  const lines = r.stdout("d1").split("\n");
  expect(lines).toContain("LAVA_PARAM_BRANCH=main");
  expect(lines).toContain("LAVA_PARAM_PATH=/tmp/evil");
  expect(lines).toContain("PATH=/usr/bin:/bin");
  expect(lines).toContain("SITE=eu");
  expect(lines).toContain("LAVA_PARAM_SITE=us");
  expect(lines).toContain("LAVA_DEPLOY=env");
  await r.ex.stop("done");
});

test("an action this host does not define is refused, naming the key to add", async () => {
  const r = rig({ web: { argv: ["/bin/true"], env: {}, timeout: 10 } });
  r.ex.deploy({ type: "deploy", requestId: "d2", name: "db", params: {} });
  const res = await r.result("d2");
  expect(res.status).toBe("refused");
  expect(res.error).toContain("add agent.deploy.db");
  expect(res.error).toContain("it has web");
  // Names that only exist on Object.prototype are no actions either.
  r.ex.deploy({ type: "deploy", requestId: "d3", name: "constructor", params: {} });
  expect((await r.result("d3")).status).toBe("refused");
  await r.ex.stop("done");
});

test("the smaller of the action's timeout and the master's kills the process group", async () => {
  const r = rig({ slow: { argv: ["/bin/sleep", "30"], env: {}, timeout: 0.3 } });
  r.ex.deploy({ type: "deploy", requestId: "d4", name: "slow", params: {}, timeoutMs: 60_000 });
  const res = await r.result("d4");
  expect(res.status).toBe("timeout");
  await r.ex.stop("done");
}, 10_000);
