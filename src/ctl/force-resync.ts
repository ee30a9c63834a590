/**
 * `lava ctl force-resync TARGET`: the leader sends the follower at TARGET
 * (HOST:PORT, or its node id) a full snapshot now (POST
 * /_raft/force-resync?target=, admin). While a long transfer runs, a
 * progress line on stderr shows how far it got (from the leader's
 * /_raft/sync-status). Exit 0 when the follower installed it, 1 otherwise.
 */
import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { connect, ctlArgs, expectObject, oneName } from "./args.ts";
import { print, printJson } from "./output.ts";
import { formatBytes } from "./table.ts";
import { meta } from "../cli/meta.ts";

/** Show progress only for transfers that take longer than this. */
const PROGRESS_AFTER_MS = 1000;
const PROGRESS_EVERY_MS = 500;

export default defineCommand({
  meta: meta({ name: "force-resync", description: "Send a follower a full snapshot of the state now (TARGET: its HOST:PORT or node id; admin token)", examples: ["lava ctl force-resync m3:6880", "lava ctl force-resync 3"] }),
  args: {
    ...ctlArgs,
    target: { type: "positional", description: "The follower, as HOST:PORT of its HTTP port (or its node id)" },
  },
  async run({ args }) {
    const target = oneName(args, "TARGET", "force-resync");
    // The transfer may take up to the snapshot timeout (60 s by default): wait for it, not for ctl.timeout.
    const ctx = connect({ ...args, timeout: args.timeout ?? "120" });
    const started = performance.now();
    let shown = false;
    const progress = setInterval(async () => {
      if (performance.now() - started < PROGRESS_AFTER_MS) return;
      try {
        const sync = (await ctx.client.get("/_raft/sync-status")) as { followers?: { address?: string; node_id?: number; snapshot?: { bytes_sent: number; bytes_total: number } | null }[] };
        const f = sync.followers?.find((x) => x.address === target || String(x.node_id) === target);
        if (f?.snapshot) {
          process.stderr.write(`\rforce-resync ${target}: ${formatBytes(f.snapshot.bytes_sent)} of ${formatBytes(f.snapshot.bytes_total)} sent`);
          shown = true;
        }
      } catch {
        /* progress is best effort */
      }
    }, PROGRESS_EVERY_MS);
    let answer: Record<string, unknown>;
    try {
      answer = expectObject(await ctx.client.post(`/_raft/force-resync?target=${encodeURIComponent(target)}`), "POST /_raft/force-resync");
    } finally {
      clearInterval(progress);
      if (shown) process.stderr.write("\n");
    }
    if (ctx.json) await printJson(answer);
    else await print(String(answer.message ?? JSON.stringify(answer)));
    if (answer.success !== true) throw new LavaError(String(answer.message ?? "force-resync failed"), "failed");
  },
});
