/**
 * One agent against one fake master, for the request tests (exec, health,
 * alerts, logs, update): a registered agent with a fake /proc, short
 * reconnects, and no alert rules unless the test gives some. cleanUp()
 * (afterEach) stops everything started.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { createAgent, type Agent, type AgentDeps } from "../../src/agent/index.ts";
import { AgentSchema } from "../../src/config/index.ts";
import { seededRng } from "../helpers/rng.ts";
import { waitFor } from "../helpers/wait.ts";
import { fakeProcRoot, FakeMaster } from "./fake-master.ts";

export const CONFIG_FILE = "/etc/lava/test-agent.yaml";
export const HOSTNAME = "req-host";

export interface Rig {
  m: FakeMaster;
  agent: Agent;
  procRoot: string;
}

const started: Rig[] = [];

/** Starts a fake master and an agent with `config` over the defaults; resolves once registered. `prepare` may add files to the fake /proc first. */
export async function startRig(config: Record<string, unknown> = {}, deps: AgentDeps = {}, prepare?: (procRoot: string) => void): Promise<Rig> {
  const m = await new FakeMaster().start();
  const procRoot = fakeProcRoot();
  prepare?.(procRoot);
  const parsed = v.parse(AgentSchema, { master: m.addr, token: "t", interval: 1, hostname: HOSTNAME, procRoot, stateDir: mkdtempSync(join(tmpdir(), "lava-agent-state-")), reconnectMin: 0.1, reconnectMax: 0.3, alerts: { rules: [] }, ...config });
  const agent = createAgent(parsed, { rng: seededRng(3), forgottenGraceMs: 0, configFile: CONFIG_FILE, env: { PATH: process.env.PATH }, ...deps });
  const rig = { m, agent, procRoot };
  started.push(rig);
  await agent.start();
  await waitFor(() => agent.status().state === "registered", 5000, "registration");
  return rig;
}

export async function cleanUp(): Promise<void> {
  for (const r of started.splice(0)) {
    await r.agent.stop();
    r.m.stop();
    rmSync(r.procRoot, { recursive: true, force: true });
  }
}

/** The messages of one type and requestId. */
export function forRequest(m: FakeMaster, type: string, requestId: string): Record<string, unknown>[] {
  return m.fromAgent.filter((x) => x.type === type && x.requestId === requestId);
}
