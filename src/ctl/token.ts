import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "token", description: "Access tokens (roles agent, read, admin): create, list, revoke", examples: ["lava ctl token create --role agent > agent.token", "lava ctl token list", "lava ctl token revoke JTI"] }),
  subCommands: {
    create: () => import("./token-create.ts").then((m) => m.default),
    list: () => import("./token-list.ts").then((m) => m.default),
    revoke: () => import("./token-revoke.ts").then((m) => m.default),
  },
});
