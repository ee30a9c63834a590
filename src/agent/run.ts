import type { AgentConfig } from "../config/index.ts";
import { logger } from "../log/index.ts";

export async function runAgent(config: AgentConfig): Promise<void> {
  logger("agent").info("agent configuration loaded", config);
}
