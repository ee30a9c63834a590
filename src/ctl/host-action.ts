import { defineCommand } from "citty";
import { connect, ctlArgs, expectObject, oneName, segment } from "./args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

/** `lava ctl host ACTION HOST`: a POST to /api/v1/hosts/HOST/ACTION (admin, audited), and a line saying what it did. */
export function hostAction(action: string, description: string, done: (host: string) => string) {
  return defineCommand({
    meta: meta({ name: action, description, examples: [`lava ctl host ${action} node7`, `lava ctl host ${action} node7 --json`] }),
    args: {
      ...ctlArgs,
      host: { type: "positional", description: "The host, as lava ctl hosts names it; an unknown one exits 1" },
    },
    async run({ args }) {
      const host = oneName(args, "HOST", `host ${action}`);
      const ctx = connect(args);
      const path = `/api/v1/hosts/${segment(host)}/${action}`;
      const answer = expectObject(await ctx.client.post(path), `POST ${path}`);
      if (ctx.json) await printJson(answer);
      else await print(done(host));
    },
  });
}
