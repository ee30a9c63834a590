import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "host", description: "Manage one registered host (lava ctl hosts lists them)", examples: ["lava ctl host remove node7"] }),
  subCommands: {
    remove: () => import("./host-remove.ts").then((m) => m.default),
  },
});
