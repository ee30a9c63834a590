import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { connect, ctlArgs, positionals, segment } from "./args.ts";
import { wholeFlag } from "./job-args.ts";
import { print } from "./output.ts";
import { eachEvent } from "./stream.ts";
import { meta } from "../cli/meta.ts";

/** The master's bound on --lines (docs/api.md). */
export const LOGS_LINES_MAX = 100_000;

export default defineCommand({
  meta: meta({
    name: "logs",
    description: "A file's (or journald unit's) lines from a host: lava ctl logs HOST PATH | --unit UNIT [-f] [-n N]; the agent's logs allowlist decides (needs an admin token)",
    usage: "HOST [PATH]", examples: ["lava ctl logs node7 /var/log/syslog -n 50", "lava ctl logs node7 --unit ssh -f"],
  }),
  args: {
    ...ctlArgs,
    host: { type: "positional", description: "The host" },
    path: { type: "positional", required: false, description: "The file on the host (or give --unit)" },
    unit: { type: "string", description: "A journald unit instead of a file", valueHint: "UNIT" },
    follow: { type: "boolean", alias: "f", description: "Keep printing new lines until interrupted (Ctrl-C)" },
    lines: { type: "string", alias: "n", description: `Start with the last N lines (default 10, at most ${LOGS_LINES_MAX})`, valueHint: "N" },
  },
  async run({ args }) {
    const path = `/api/v1/hosts/${segment(logsTarget(positionals(args)).host)}/logs?${logsQuery(positionals(args), args)}`;
    const ctx = connect(args);
    const res = await ctx.client.stream("GET", path);
    let end: { error: string | null } | null = null;
    await eachEvent(res.body, `GET ${path}`, async (e) => {
      if (e.type === "line") await print(typeof e.line === "string" ? e.line : "");
      else if (e.type === "dropped") console.error(`lava: ${e.lines} lines dropped: this client read more slowly than the log grew`);
      else if (e.type === "end") end = { error: typeof e.error === "string" ? e.error : null };
    });
    const ended = end as { error: string | null } | null;
    if (ended === null) throw new LavaError("logs: the master ended the stream without saying why (did it stop?)", "failed");
    if (ended.error !== null) throw new LavaError(`logs: ${ended.error}`, "failed");
  },
});

function logsTarget(names: string[]): { host: string; file: string | undefined } {
  if (names.length === 0 || names.length > 2) throw new LavaError(`logs takes HOST and a PATH (or --unit UNIT), got ${names.length} words`, "usage");
  return { host: names[0]!, file: names[1] };
}

/** The query string from the words and flags; a mistake is exit 2 before anything is sent. Pure. */
export function logsQuery(names: string[], flags: { unit?: string | undefined; follow?: boolean | undefined; lines?: string | undefined }): string {
  const { file } = logsTarget(names);
  if ((file === undefined) === (flags.unit === undefined)) throw new LavaError("logs needs exactly one of a PATH or --unit UNIT", "usage");
  const q = new URLSearchParams();
  if (file !== undefined) q.set("path", file);
  else if (flags.unit!.trim() === "") throw new LavaError("--unit must not be empty", "usage");
  else q.set("unit", flags.unit!);
  if (flags.follow) q.set("follow", "1");
  if (flags.lines !== undefined) q.set("lines", String(wholeFlag("lines", flags.lines, 0, LOGS_LINES_MAX)));
  return q.toString();
}
