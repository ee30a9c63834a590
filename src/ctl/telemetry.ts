import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";
import { connect, ctlArgs, expectObject, oneName, segment } from "./args.ts";
import { print, printJson } from "./output.ts";
import { telemetryText } from "./telemetry-view.ts";

export default defineCommand({
  meta: meta({
    name: "telemetry",
    description: "A host's latest telemetry: filesystems, network and disk rates, top processes by CPU and memory, GPUs, containers",
    usage: "HOST", examples: ["lava ctl telemetry node7", "lava ctl telemetry node7 --json"],
  }),
  args: {
    ...ctlArgs,
    host: { type: "positional", required: true, description: "The host" },
  },
  async run({ args }) {
    const host = oneName(args, "HOST", "telemetry");
    const ctx = connect(args);
    const path = `/api/v1/hosts/${segment(host)}/telemetry`;
    const body = expectObject(await ctx.client.get(path), `GET ${path}`);
    if (ctx.json) await printJson(body);
    else await print(telemetryText(body));
  },
});
