/**
 * `lava agent` entry: runs the agent until SIGINT or SIGTERM, then stops it
 * cleanly (WebSocket closed with a close frame, socket closed, timers
 * cleared) and resolves, so the process exits on its own.
 */
import type { AgentConfig } from "../config/index.ts";
import { logger } from "../log/index.ts";
import { createAgent, type AgentDeps } from "./agent.ts";

const log = logger("agent");

export async function runAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<void> {
  const agent = createAgent(config, deps);
  await agent.start();
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      log.info(`${signal} received, stopping`);
      resolve();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  await agent.stop();
}
