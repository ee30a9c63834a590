import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { parseWhen } from "../control/when.ts";
import { connect, ctlArgs, expectList } from "./args.ts";
import { print, printJson } from "./output.ts";
import { auditTable } from "./views.ts";
import { meta } from "../cli/meta.ts";

/** The master's bounds for `limit` (docs/api.md). */
export const AUDIT_LIMIT_MAX = 10_000;

const WHEN_HINT = "ISO 8601 (2026-11-22T21:04:00Z), epoch ms, or a duration back from now like 30m, 2h, 7d";

export default defineCommand({
  meta: meta({
    name: "audit",
    description: "The audit log, oldest first: every admin action and refusal (needs an admin token); times in UTC",
    examples: ["lava ctl audit --since 2h", "lava ctl audit --action host.drain --json"],
  }),
  args: {
    ...ctlArgs,
    since: { type: "string", description: `From this time on: ${WHEN_HINT}`, valueHint: "WHEN" },
    until: { type: "string", description: "Up to this time (same forms as --since)", valueHint: "WHEN" },
    limit: { type: "string", description: `At most this many entries, the newest kept (master's default 1000, max ${AUDIT_LIMIT_MAX})`, valueHint: "N" },
    action: { type: "string", description: "Only this action, e.g. host.drain, token.create", valueHint: "ACTION" },
  },
  async run({ args }) {
    const query = auditQuery(args, Date.now());
    const ctx = connect(args);
    const path = `/api/v1/audit${query ? `?${query}` : ""}`;
    const rows = expectList(await ctx.client.get(path), `GET ${path}`);
    if (ctx.json) await printJson(rows);
    else await print(auditTable(rows));
  },
});

/**
 * The query string for GET /api/v1/audit from the flags, checked here so a
 * typo is exit 2 before anything is sent. Times go on as given: the master
 * resolves durations against its own clock.
 */
export function auditQuery(
  args: { since?: string | undefined; until?: string | undefined; limit?: string | undefined; action?: string | undefined },
  nowMs: number,
): string {
  const q = new URLSearchParams();
  const times: Record<string, number> = {};
  for (const name of ["since", "until"] as const) {
    const raw = args[name];
    if (raw === undefined) continue;
    const t = parseWhen(raw, nowMs);
    if (t === null) throw new LavaError(`--${name} must be ${WHEN_HINT}; got "${raw}"`, "usage");
    times[name] = t;
    q.set(name, raw);
  }
  if (times.since !== undefined && times.until !== undefined && times.since > times.until) {
    throw new LavaError(`--since (${args.since}) is later than --until (${args.until}); nothing could match`, "usage");
  }
  if (args.limit !== undefined) {
    const raw = args.limit.trim();
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > AUDIT_LIMIT_MAX) {
      throw new LavaError(`--limit must be a whole number from 1 to ${AUDIT_LIMIT_MAX}; got "${args.limit}"`, "usage");
    }
    q.set("limit", String(n));
  }
  if (args.action !== undefined) {
    if (args.action.trim() === "") throw new LavaError("--action must not be empty", "usage");
    q.set("action", args.action);
  }
  return q.toString();
}
