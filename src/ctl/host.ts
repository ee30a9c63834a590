import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "host", description: "Manage registered hosts (lava ctl hosts lists them)", examples: ["lava ctl host remove node7", "lava ctl host reset-key node7", "lava ctl host revoke-sessions node7"] }),
  subCommands: {
    remove: () => import("./host-remove.ts").then((m) => m.default),
    "reset-key": () => import("./host-reset-key.ts").then((m) => m.default),
    "revoke-sessions": () => import("./host-revoke-sessions.ts").then((m) => m.default),
  },
});
