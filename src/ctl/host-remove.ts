import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { connect, ctlArgs, expectObject, positionals, segment } from "./args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "90", "30m", "1h", "7d" → seconds; null if it is none of those. */
export function parseDurationSec(raw: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([smhdw]?)$/.exec(raw.trim());
  return m ? Number(m[1]) * (UNIT_SEC[m[2] || "s"] ?? 1) : null;
}

export default defineCommand({
  meta: meta({
    name: "remove",
    description: "Forget a host, or every host matching --pattern and/or --unseen-for (needs an admin token; audited); an agent still running registers again with a new id",
    examples: ["lava ctl host remove node7", "lava ctl host remove --pattern 'fake-*' --dry-run", "lava ctl host remove --unseen-for 1h"],
  }),
  args: {
    ...ctlArgs,
    host: { type: "positional", required: false, description: "The host, as lava ctl hosts names it; an unknown one exits 1" },
    pattern: { type: "string", description: "Remove every host whose name matches this glob ('fake-*')", valueHint: "GLOB" },
    "unseen-for": { type: "string", description: "Remove every host with no report and no control channel for this long (90s, 30m, 1h, 7d)", valueHint: "DURATION" },
    "dry-run": { type: "boolean", description: "With --pattern/--unseen-for: list what would be removed, remove nothing" },
  },
  async run({ args }) {
    const names = positionals(args);
    const bulk = args.pattern !== undefined || args["unseen-for"] !== undefined;
    if (bulk === (names.length > 0) || names.length > 1) {
      throw new LavaError("host remove takes one HOST, or --pattern GLOB and/or --unseen-for DURATION", "usage");
    }
    const ctx = connect(args);
    if (!bulk) {
      const host = names[0]!;
      const path = `/api/v1/hosts/${segment(host)}`;
      const answer = expectObject(await ctx.client.delete(path), `DELETE ${path}`);
      if (ctx.json) await printJson(answer);
      else await print(`${host} removed`);
      return;
    }
    let unseenFor: number | undefined;
    if (args["unseen-for"] !== undefined) {
      const sec = parseDurationSec(args["unseen-for"]);
      if (sec === null || sec < 1) throw new LavaError(`--unseen-for: "${args["unseen-for"]}" is not a duration (90s, 30m, 1h, 7d)`, "usage");
      unseenFor = sec;
    }
    const body = { ...(args.pattern !== undefined ? { pattern: args.pattern } : {}), ...(unseenFor !== undefined ? { unseenFor } : {}), dryRun: args["dry-run"] === true };
    const answer = expectObject(await ctx.client.post("/api/v1/hosts/remove", body), "POST /api/v1/hosts/remove");
    if (ctx.json) await printJson(answer);
    else {
      const list = (args["dry-run"] ? answer.matched : answer.removed) as string[];
      await print(`${args["dry-run"] ? "would remove" : "removed"} ${list.length} host(s)${list.length ? `: ${list.slice(0, 50).join(", ")}${list.length > 50 ? ", …" : ""}` : ""}`);
    }
  },
});
