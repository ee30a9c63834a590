import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "token", description: "Access tokens (roles agent, read, admin): create, list, revoke" },
  subCommands: {
    create: () => import("./token-create.ts").then((m) => m.default),
    list: () => import("./token-list.ts").then((m) => m.default),
    revoke: () => import("./token-revoke.ts").then((m) => m.default),
  },
});
