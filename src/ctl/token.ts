import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "token", description: "Access tokens (roles agent, read, admin)" },
  subCommands: {
    create: () => import("./token-create.ts").then((m) => m.default),
  },
});
