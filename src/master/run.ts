import type { MasterConfig } from "../config/index.ts";
import { logger } from "../log/index.ts";
import { startMaster, type StartOptions } from "./server.ts";

/** `lava master`: runs until SIGINT/SIGTERM, then stops cleanly. */
export async function runMaster(config: MasterConfig, opts: StartOptions = {}): Promise<void> {
  const master = await startMaster(config, opts);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      logger("master").info(`${sig}: stopping`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await master.stop();
}
