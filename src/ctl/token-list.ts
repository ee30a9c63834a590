import { defineCommand } from "citty";
import { connect, ctlArgs, expectList } from "./args.ts";
import { print, printJson } from "./output.ts";
import { tokensTable } from "./views.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "list", description: "Tokens minted so far, never their text (needs an admin token); times in UTC", examples: ["lava ctl token list", "lava ctl token list --json"] }),
  args: { ...ctlArgs },
  async run({ args }) {
    const ctx = connect(args);
    const rows = expectList(await ctx.client.get("/api/v1/tokens"), "GET /api/v1/tokens");
    if (ctx.json) await printJson(rows);
    else await print(tokensTable(rows));
  },
});
