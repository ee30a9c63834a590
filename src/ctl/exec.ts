import { defineCommand } from "citty";
import { EXIT, ExitRequest } from "../cli/errors.ts";
import { LavaError } from "../errors.ts";
import { commandLine, connect, ctlArgs } from "./args.ts";
import { ExecCollector } from "./exec-view.ts";
import { print, printJson } from "./output.ts";
import { eachEvent, targetArgs, targetBody } from "./stream.ts";
import { printHeld } from "./approval-view.ts";
import { meta } from "../cli/meta.ts";

/** The master's bound on an exec timeout (docs/api.md). */
export const EXEC_TIMEOUT_SEC_MAX = 24 * 3600;

const args = {
  ...ctlArgs,
  ...targetArgs,
  // Replaces ctlArgs.timeout here: the command's limit on each host. Requests to the master wait LAVA_TIMEOUT or ctl.timeout.
  timeout: { type: "string", description: "Kill the command (its process group) on a host after this many seconds; status timeout (default 60)", valueHint: "SECONDS" },
  argv: { type: "positional", required: false, description: "After --: the command and its arguments, run as given on each host (never through a shell); required" },
} as const;

export default defineCommand({
  meta: meta({
    name: "exec",
    description: "Run a command on hosts: lava ctl exec --hosts A,B|--all|--queue Q [--timeout S] -- ARGV…; prints 'host: line' as output comes; exit 0 only if every host exited 0. A command on master.exec.requireApproval prints its approval id instead and runs once another admin approves it (needs an admin token)",
    usage: "-- COMMAND [ARG…]", examples: ["lava ctl exec --hosts n1,n2 -- /usr/bin/uptime", "lava ctl exec --all --timeout 30 --json -- df -h /"],
  }),
  args,
  async run({ args: parsed, rawArgs }) {
    const { argv, stray } = commandLine(parsed, rawArgs);
    const body = execRequest(parsed, argv, stray);
    const ctx = connect({ ...parsed, timeout: undefined });
    const res = await ctx.client.stream("POST", "/api/v1/exec", body);
    if (res.status === 202) {
      await printHeld(await res.json(), ctx.json);
      return;
    }
    await printExecStream(res, "POST /api/v1/exec", ctx.json);
  },
});

/** An exec's NDJSON answer (from exec, or from approve): output as it comes, a summary; exit 1 unless every host exited 0. */
export async function printExecStream(res: Response, what: string, json: boolean): Promise<void> {
  const collector = new ExecCollector(json, { stdout: (line) => print(line), stderr: (line) => console.error(line) });
  await eachEvent(res.body, what, (e) => collector.event(e));
  if (json) await printJson(collector.sorted());
  else console.error(collector.summary());
  if (!collector.succeeded) throw new ExitRequest(EXIT.failed);
}

/** The POST /api/v1/exec body from the flags; a mistake is exit 2 before anything is sent. Pure. */
export function execRequest(flags: { hosts?: string | undefined; all?: boolean | undefined; queue?: string | undefined; timeout?: string | undefined }, argv: string[] | null, stray: string[]) {
  if (stray.length > 0) throw new LavaError(`exec: unexpected ${stray.join(" ")} before --; put the command after --: lava ctl exec --all -- ${stray.join(" ")}`, "usage");
  if (!argv || argv.length === 0) throw new LavaError("exec needs a command after --: lava ctl exec --all -- uptime", "usage");
  const targets = targetBody(flags, "exec");
  let timeoutSec: number | undefined;
  if (flags.timeout !== undefined) {
    timeoutSec = Number(flags.timeout.trim());
    if (flags.timeout.trim() === "" || !(timeoutSec > 0) || timeoutSec > EXEC_TIMEOUT_SEC_MAX) throw new LavaError(`--timeout must be seconds, more than 0 and at most ${EXEC_TIMEOUT_SEC_MAX}; got "${flags.timeout}"`, "usage");
  }
  return { ...targets, argv, ...(timeoutSec !== undefined ? { timeoutSec } : {}) };
}
