import { defineCommand } from "citty";
import { connect, ctlArgs, expectObject, oneName, segment } from "./args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "revoke", description: "Revoke a token by its id (JTI in lava ctl token list); it stops working at once (needs an admin token)", examples: ["lava ctl token revoke 3f9c2a1b"] }),
  args: {
    ...ctlArgs,
    jti: { type: "positional", description: "The token's id" },
  },
  async run({ args }) {
    const jti = oneName(args, "JTI", "token revoke");
    const ctx = connect(args);
    const path = `/api/v1/tokens/${segment(jti)}`;
    const answer = expectObject(await ctx.client.delete(path), `DELETE ${path}`);
    if (ctx.json) await printJson(answer);
    else await print(`token ${jti} revoked`);
  },
});
