import { defineCommand } from "citty";
import { connect, ctlArgs, expectObject, oneName, segment } from "./args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "resume", description: "Put a drained host back into scheduling (needs an admin token)", examples: ["lava ctl resume node7"] }),
  args: {
    ...ctlArgs,
    host: { type: "positional", description: "The host, as lava ctl hosts names it; an unknown one exits 1" },
  },
  async run({ args }) {
    const host = oneName(args, "HOST", "resume");
    const ctx = connect(args);
    const path = `/api/v1/hosts/${segment(host)}/resume`;
    const answer = expectObject(await ctx.client.post(path), `POST ${path}`);
    if (ctx.json) await printJson(answer);
    else await print(`${host} resumed`);
  },
});
