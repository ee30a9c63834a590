import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "ctl", description: "Query and command the cluster (tables for people, --json for scripts)" },
  subCommands: {},
});
