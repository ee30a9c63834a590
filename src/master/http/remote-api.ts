/** The routes of requests to agents: exec (and its approvals), health and alerts, logs, self-update, deploy. */
import type { MasterContext } from "../context.ts";
import type { ChangeRoute } from "./api.ts";
import { execRoutes } from "./exec-api.ts";
import { healthRoutes } from "./health-api.ts";
import { logsRoutes } from "./logs-api.ts";
import type { Router } from "./router.ts";
import { upgradeRoutes } from "./upgrade-api.ts";
import { approvalRoutes } from "./approvals-api.ts";
import { deployRoutes } from "./deploy-api.ts";

export function remoteRoutes(r: Router, ctx: MasterContext, change: ChangeRoute): void {
  execRoutes(ctx, change);
  healthRoutes(r, ctx);
  logsRoutes(ctx, change);
  upgradeRoutes(r, ctx, change);
  approvalRoutes(r, ctx, change);
  deployRoutes(ctx, change);
}
