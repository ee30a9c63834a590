/**
 * `lava agent` entry: runs the agent until SIGINT or SIGTERM, then stops it
 * cleanly (WebSocket closed with a close frame, socket closed, timers
 * cleared) and resolves, so the process exits on its own.
 *
 * After a successful `update_agent` (agent.restartRequested) it stops the
 * agent the same way (jobs and commands killed, "agent restarting into lava
 * V") and starts the new binary with the same argv and environment
 * (update/restart.ts): process.execve replaces this process; where that is
 * not possible the new binary is spawned and this function returns, so
 * main exits.
 */
import type { AgentConfig } from "../config/index.ts";
import { logger } from "../log/index.ts";
import { createAgent, type AgentDeps } from "./agent.ts";
import { restartInto, type RestartPlan } from "./update/index.ts";

const log = logger("agent");

export async function runAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<void> {
  const agent = createAgent(config, deps);
  await agent.start();
  const why = await new Promise<{ restart: RestartPlan | null }>((resolve) => {
    const done = (restart: RestartPlan | null) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve({ restart });
    };
    const onSignal = (signal: NodeJS.Signals) => {
      log.info(`${signal} received, stopping`);
      done(null);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    void agent.restartRequested.then(done);
  });
  if (why.restart === null) {
    await agent.stop();
    return;
  }
  await agent.stop(`agent restarting into lava ${why.restart.version}`);
  restartInto(why.restart);
}
