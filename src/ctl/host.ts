import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "host", description: "Manage one registered host (lava ctl hosts lists them)" },
  subCommands: {
    remove: () => import("./host-remove.ts").then((m) => m.default),
  },
});
