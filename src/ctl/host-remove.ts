import { defineCommand } from "citty";
import { connect, ctlArgs, expectObject, oneName, segment } from "./args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "remove",
    description: "Forget a host (needs an admin token); if its agent still runs it registers again with a new id",
    examples: ["lava ctl host remove node7"],
  }),
  args: {
    ...ctlArgs,
    host: { type: "positional", description: "The host, as lava ctl hosts names it; an unknown one exits 1" },
  },
  async run({ args }) {
    const host = oneName(args, "HOST", "host remove");
    const ctx = connect(args);
    const path = `/api/v1/hosts/${segment(host)}`;
    const answer = expectObject(await ctx.client.delete(path), `DELETE ${path}`);
    if (ctx.json) await printJson(answer);
    else await print(`${host} removed`);
  },
});
