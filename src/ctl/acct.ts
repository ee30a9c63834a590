import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { connect, ctlArgs, expectObject } from "./args.ts";
import { print, printJson } from "./output.ts";
import { acctTable } from "./views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "acct",
    description: "Accounting (like sacct/bacct): attempts that ended, by user and queue, with their elapsed and CPU time and largest resident set",
    examples: ["lava ctl acct", "lava ctl acct --since 7d --user alice --json"],
  }),
  args: {
    ...ctlArgs,
    since: { type: "string", description: "Attempts that ended since: a duration back (1d, 12h, 30m), ISO 8601, or epoch ms (default 1d)", valueHint: "WHEN" },
    user: { type: "string", description: "Only this token subject's jobs", valueHint: "USER" },
    queue: { type: "string", description: "Only this queue", valueHint: "Q" },
  },
  async run({ args }) {
    const q = new URLSearchParams();
    for (const k of ["since", "user", "queue"] as const) {
      const value = args[k];
      if (value === undefined) continue;
      if (value.trim() === "") throw new LavaError(`--${k} must not be empty`, "usage");
      q.set(k, value);
    }
    const ctx = connect(args);
    const path = `/api/v1/acct${q.size ? `?${q}` : ""}`;
    const answer = expectObject(await ctx.client.get(path), `GET ${path}`);
    const rows = Array.isArray(answer.rows) ? (answer.rows as Record<string, unknown>[]) : [];
    if (ctx.json) await printJson(answer);
    else await print(`since ${String(answer.since)}\n${acctTable(rows)}`);
  },
});
