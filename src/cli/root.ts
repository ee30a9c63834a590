/**
 * The `lava` command and its subcommands, each imported lazily with a string
 * literal so `bun build --compile` bundles it (and, with --splitting, keeps
 * it out of the processes that never run it).
 */
import { defineCommand, type CommandDef } from "citty";
import { VERSION } from "../version.ts";
import { meta } from "./meta.ts";

export const root: CommandDef = defineCommand({
  meta: meta({
    name: "lava",
    version: VERSION,
    description: "Cluster load information, jobs and remote commands in one binary",
    examples: ["lava master --data-dir /var/lib/lava", "lava agent --master m1:6880 --token \"$(cat /etc/lava/agent.token)\"", "lava ctl load"],
  }),
  subCommands: {
    master: () => import("../master/command.ts").then((m) => m.default),
    agent: () => import("../agent/command.ts").then((m) => m.default),
    ctl: () => import("../ctl/command.ts").then((m) => m.default),
    install: () => import("../install/command.ts").then((m) => m.install),
    uninstall: () => import("../install/command.ts").then((m) => m.uninstall),
    completion: () => import("./completion-command.ts").then((m) => m.completionCommand(root)),
    man: () => import("./man-command.ts").then((m) => m.manCommand(root)),
    version: () => import("./version-command.ts").then((m) => m.default),
  },
});
