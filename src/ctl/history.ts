import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";
import { connect, ctlArgs, expectObject, oneName, segment } from "./args.ts";
import { print, printJson } from "./output.ts";
import { historyText } from "./history-view.ts";

export default defineCommand({
  meta: meta({
    name: "history",
    description: "A host's load history as a terminal chart (like Ganglia's graphs): --metric load1 over --since 1h; --json for scripts",
    usage: "HOST", examples: ["lava ctl history node7", "lava ctl history node7 --metric cpuUser --since 24h", "lava ctl history node7 --since 7d --json"],
  }),
  args: {
    ...ctlArgs,
    host: { type: "positional", required: true, description: "The host" },
    metric: { type: "string", description: "load1 (default), load5, load15, load1PerCpu, cpuUser, cpuSys, cpuIdle, memUsed, memFree, swapUsed, swapFree, procsTotal, jobsRunning, jobsPending, netRx, netTx, diskRead, diskWrite, fsUsed, gpuUtil", valueHint: "M" },
    since: { type: "string", description: "Start: a duration back from now (30m, 24h, 7d; default 1h), ISO 8601 or epoch ms", valueHint: "D" },
    until: { type: "string", description: "End (default now), as --since", valueHint: "T" },
    step: { type: "string", description: "Seconds per point (default: the finest kept for the span)", valueHint: "S" },
  },
  async run({ args }) {
    const host = oneName(args, "HOST", "history");
    const ctx = connect(args);
    const q = new URLSearchParams();
    for (const k of ["metric", "since", "until", "step"] as const) if (args[k] !== undefined) q.set(k, String(args[k]));
    const path = `/api/v1/hosts/${segment(host)}/history${q.size ? `?${q}` : ""}`;
    const body = expectObject(await ctx.client.get(path), `GET ${path}`);
    if (ctx.json) await printJson(body);
    else await print(historyText(body, process.stdout.isTTY ? (process.stdout.columns ?? 80) : 80));
  },
});
