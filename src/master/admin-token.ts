import { existsSync } from "node:fs";
import { newTokenId, signToken, writePrivateFile } from "../auth/index.ts";
import { logger } from "../log/index.ts";
import type { MasterState } from "./state.ts";

const log = logger("master");

/**
 * First start: an admin token in <data-dir>/admin.token (mode 0600). The
 * file is written at once (it is a JWT on the cluster secret, valid on every
 * master); its record, which `lava ctl token list` shows, goes through the
 * log as soon as a leader can take it.
 */
export async function ensureAdminToken(state: MasterState, path: string, jwtKey: Uint8Array, nowMs: () => number, createdSecret: string | null): Promise<void> {
  if (existsSync(path)) return;
  const iat = Math.floor(nowMs() / 1000);
  const jti = newTokenId();
  const record = () => state.propose({ type: "token.create", at: nowMs(), actor: "master", actorRole: "admin", jti, role: "admin", subject: "admin", issuedAt: iat });
  if (!state.clustered) await record();
  else {
    const retry = () => record().catch(() => setTimeout(retry, 500));
    void retry();
  }
  writePrivateFile(path, signToken({ sub: "admin", role: "admin", jti, iat }, jwtKey) + "\n");
  log.info(`${createdSecret ? "created the cluster secret " + createdSecret + " and " : "created "}an admin token in ${path} (mode 0600)`);
}
