import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { connect, ctlArgs, expectObject, oneName, segment } from "./args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "drain", description: "Take a host out of scheduling: it runs no new jobs until resumed (needs an admin token)", examples: ["lava ctl drain node7 --reason \"disk swap\""] }),
  args: {
    ...ctlArgs,
    host: { type: "positional", description: "The host, as lava ctl hosts names it; an unknown one exits 1" },
    reason: { type: "string", description: "Why, for the audit log (at most 1000 characters)", valueHint: "TEXT" },
  },
  async run({ args }) {
    const host = oneName(args, "HOST", "drain");
    if (args.reason !== undefined && args.reason.trim() === "") throw new LavaError("--reason must not be empty", "usage");
    const ctx = connect(args);
    const path = `/api/v1/hosts/${segment(host)}/drain`;
    const answer = expectObject(await ctx.client.post(path, args.reason !== undefined ? { reason: args.reason } : {}), `POST ${path}`);
    if (ctx.json) await printJson(answer);
    else await print(`${host} drained`);
  },
});
