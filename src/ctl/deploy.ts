import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";
import { EXIT, ExitRequest } from "../cli/errors.ts";
import { LavaError } from "../errors.ts";
import { DEPLOY_LIMITS, DEPLOY_NAME_RE, DEPLOY_PARAM_RE } from "../control/index.ts";
import { connect, ctlArgs, oneName, repeatedFlag } from "./args.ts";
import { ExecCollector } from "./exec-view.ts";
import { print, printJson } from "./output.ts";
import { eachEvent, targetArgs, targetBody } from "./stream.ts";
import { EXEC_TIMEOUT_SEC_MAX } from "./exec.ts";


const args = {
  ...ctlArgs,
  ...targetArgs,
  name: { type: "positional", description: "The deploy action, as named in each agent's agent.deploy" },
  param: { type: "string", description: "A parameter, NAME=VALUE (repeat for more): it reaches the action as the environment variable LAVA_PARAM_NAME, never on a command line", valueHint: "NAME=VALUE" },
  "wave-size": { type: "string", description: "Hosts per wave (default 10)", valueHint: "N" },
  continue: { type: "boolean", description: "Go on after a wave in which a host failed (default: stop)" },
  // Replaces ctlArgs.timeout here: how long the master waits for each host. Requests to the master wait LAVA_TIMEOUT or ctl.timeout.
  timeout: { type: "string", description: "Seconds the master waits for each host (default 3600; the agent kills the action at its own timeout)", valueHint: "SECONDS" },
} as const;

export default defineCommand({
  meta: meta({
    name: "deploy",
    description:
      "Run a named deploy action (agent.deploy.NAME on each host) in waves: lava ctl deploy NAME --hosts A,B|--all|--queue Q [--param branch=main]… [--wave-size N] [--continue]; prints 'host: line' as output comes; stops after a wave in which a host failed; exit 0 only if every host ran it and exited 0 (needs an admin token)",
    usage: "NAME", examples: ["lava ctl deploy web --hosts web1,web2 --param branch=main", "lava ctl deploy web --queue web --wave-size 5 --continue"],
  }),
  args,
  async run({ args: parsed, rawArgs }) {
    const body = deployRequest(parsed, oneName(parsed, "deploy action", "deploy"), repeatedFlag(rawArgs, "param", args));
    const ctx = connect({ ...parsed, timeout: undefined });
    const res = await ctx.client.stream("POST", "/api/v1/deploy", body);
    const collector = new ExecCollector(ctx.json, { stdout: (line) => print(line), stderr: (line) => console.error(line) }, "deploy");
    let stopped = false;
    await eachEvent(res.body, "POST /api/v1/deploy", async (e) => {
      if (e.type === "wave" && !ctx.json) console.error(`lava: deploy ${body.name}: wave ${String(e.wave)}/${String(e.of)}: ${Array.isArray(e.hosts) ? e.hosts.join(", ") : ""}`);
      if (e.type === "done") stopped = e.stopped === true;
      await collector.event(e);
    });
    if (ctx.json) await printJson(collector.sorted());
    else {
      if (stopped) console.error("lava: stopped after a failed wave; later waves were not started (--continue goes on)");
      console.error(collector.summary());
    }
    if (!collector.succeeded) throw new ExitRequest(EXIT.failed);
  },
});

/** The POST /api/v1/deploy body from the flags; a mistake is exit 2 before anything is sent. Pure. */
export function deployRequest(
  flags: { hosts?: string | undefined; all?: boolean | undefined; queue?: string | undefined; "wave-size"?: string | undefined; continue?: boolean | undefined; timeout?: string | undefined },
  name: string,
  params: readonly string[],
) {
  if (!DEPLOY_NAME_RE.test(name)) throw new LavaError(`deploy: "${name}" is not a deploy action name (letters, digits, '.', '_', '-')`, "usage");
  const targets = targetBody(flags, "deploy");
  const p: Record<string, string> = {};
  for (const kv of params) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new LavaError(`--param needs NAME=VALUE, got "${kv}"`, "usage");
    const k = kv.slice(0, eq);
    const val = kv.slice(eq + 1);
    if (!DEPLOY_PARAM_RE.test(k)) throw new LavaError(`--param ${k}: parameter names are lowercase letters, digits and '_', at most 32, starting with a letter (it becomes LAVA_PARAM_${k.toUpperCase()})`, "usage");
    if (Object.hasOwn(p, k)) throw new LavaError(`--param ${k} given twice`, "usage");
    if (val.length > DEPLOY_LIMITS.paramValueChars || val.includes("\0")) throw new LavaError(`--param ${k}: values are at most ${DEPLOY_LIMITS.paramValueChars} characters, without NUL`, "usage");
    p[k] = val;
  }
  if (Object.keys(p).length > DEPLOY_LIMITS.params) throw new LavaError(`at most ${DEPLOY_LIMITS.params} --param`, "usage");
  const out: Record<string, unknown> = { ...targets, name, params: p };
  if (flags["wave-size"] !== undefined) {
    const n = Number(flags["wave-size"]);
    if (!Number.isInteger(n) || n < 1 || n > DEPLOY_LIMITS.waveSizeMax) throw new LavaError(`--wave-size must be a whole number from 1 to ${DEPLOY_LIMITS.waveSizeMax}; got "${flags["wave-size"]}"`, "usage");
    out.waveSize = n;
  }
  if (flags.continue === true) out.continue = true;
  if (flags.timeout !== undefined) {
    const t = Number(flags.timeout.trim());
    if (flags.timeout.trim() === "" || !(t > 0) || t > EXEC_TIMEOUT_SEC_MAX) throw new LavaError(`--timeout must be seconds, more than 0 and at most ${EXEC_TIMEOUT_SEC_MAX}; got "${flags.timeout}"`, "usage");
    out.timeoutSec = t;
  }
  return out as { name: string; params: Record<string, string> } & Record<string, unknown>;
}
