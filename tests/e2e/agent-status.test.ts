/**
 * Agent status (issue 14): the agent reports `online | degraded | offline`
 * itself; `ctl hosts --json` shows it as `agentStatus`. A failing health
 * check makes it degraded (with what fails); a clean stop shows offline
 * (and the host unavail) at once, not after three silent intervals.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { ctl, type Row } from "../security/lib.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
const agents: Proc[] = [];
const work = tempDir("lava-agent-status-");

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 4\n" });
}, 20_000);

afterAll(() => teardown({ clients: [...agents], masters: [master], work }));

async function hostsJson(): Promise<Row[]> {
  const r = await ctl(master, ["hosts", "--json"]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Row[];
}

function agent(name: string, config: string): Proc {
  const proc = writeProcFixture(join(work, `proc-${name}`));
  writeFileSync(join(proc, "mounts"), "");
  const cfg = join(work, `${name}.yaml`);
  writeFileSync(cfg, config);
  const p = startAgent(master, { hostname: name, procRoot: proc, args: ["--config", cfg] });
  agents.push(p);
  return p;
}

describe("agent status", () => {
  test("a failing health check shows degraded, with what fails; the healthy agent is online", async () => {
    agent("healthy", "agent:\n  health:\n    interval: 1\n");
    agent("sick", `agent:\n  health:\n    interval: 1\n    checks:\n      - name: always-fails\n        argv: [/bin/sh, -c, "echo broken; exit 2"]\n`);
    const rows = await waitFor(async () => {
      const all = await hostsJson();
      const s = all.find((h) => h.host === "sick");
      const ok = all.find((h) => h.host === "healthy");
      return s?.agentStatus === "degraded" && ok?.connected === true ? all : null;
    }, 15_000, "sick degraded");
    const sick = rows.find((h) => h.host === "sick")!;
    expect(String(sick.agentStatusDetail)).toContain("always-fails: critical");
    expect(rows.find((h) => h.host === "healthy")).toMatchObject({ agentStatus: "online", connected: true });
    const table = await ctl(master, ["hosts"]);
    expect(table.stdout).toMatch(/sick\s.*\sdegraded/);
  }, 30_000);

  test("a clean stop shows offline (and the host unavail) within a second", async () => {
    const p = agent("leaving", "agent:\n  health:\n    interval: 300\n");
    await waitFor(async () => (await hostsJson()).find((h) => h.host === "leaving" && h.status === "ok"), 15_000, "leaving ok");
    const stopped = p.stop("SIGTERM");
    const t0 = performance.now();
    await waitFor(async () => {
      const h = (await master.api<Row[]>("/api/v1/hosts")).body.find((x) => x.host === "leaving");
      return h?.agentStatus === "offline" && h.status === "unavail";
    }, 3000, "offline and unavail");
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await stopped).toBe(0);
  }, 30_000);
});
