/**
 * `lava ctl cluster [status]` shows the masters (design §8: raft health and
 * sync status); `add ID=HOST:PORT`, `remove ID` and `transfer ID` change
 * membership and leadership (admin token, audited). The action is a plain
 * positional word rather than a citty subcommand, so flags may come first.
 */
import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import type { MasterClient } from "./client.ts";
import { clusterTable, clusterView } from "./cluster-view.ts";
import { connect, ctlArgs, expectObject, positionals, type CtlContext } from "./args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

type Row = Record<string, unknown>;
/** Each member's own answer may take this long; a member that is down shows as unreachable. */
const MEMBER_TIMEOUT_MS = 2000;

/** One member's own answer (its address from /_raft/health is host:port: scheme and TLS options are those of the client). */
async function ask(client: MasterClient, addr: string, path: string): Promise<Row | null> {
  const member = client.sibling(addr, MEMBER_TIMEOUT_MS);
  if (!member) return null;
  try {
    const answer = await member.get(path);
    return typeof answer === "object" && answer !== null ? (answer as Row) : null;
  } catch {
    return null;
  }
}

async function status(ctx: CtlContext): Promise<void> {
  const first = expectObject(await ctx.client.get("/_raft/health"), "GET /_raft/health");
  const addrs = new Map<number, string>();
  for (const [id, addr] of Object.entries((first.members ?? {}) as Record<string, unknown>)) if (typeof addr === "string") addrs.set(Number(id), addr);
  const health = new Map<string, Row | null>(await Promise.all([...addrs.values()].map(async (a) => [a, await ask(ctx.client, a, "/_raft/health")] as const)));
  const leader = [...health.entries()].find(([, h]) => h?.state === "Leader")?.[0] ?? null;
  const sync = leader ? await ask(ctx.client, leader, "/_raft/sync-status") : null;
  const view = clusterView(addrs, health, sync);
  if (ctx.json) await printJson(view);
  else await print(clusterTable(view));
}

function nodeId(arg: string | undefined, action: string): number {
  if (!arg || !/^[1-9]\d{0,9}$/.test(arg)) throw new LavaError(`cluster ${action} takes a node id (a whole number ≥ 1), got '${arg ?? ""}'`, "usage");
  return Number(arg);
}

export default defineCommand({
  meta: meta({
    name: "cluster",
    description: "The masters: leader, term, commit/applied, each follower's lag and health. `cluster add ID=HOST:PORT`, `cluster remove ID`, `cluster transfer ID` (admin)",
    usage: "[status | add ID=HOST:PORT | remove ID | transfer ID]", examples: ["lava ctl cluster", "lava ctl cluster add 4=m4:6880", "lava ctl cluster transfer 2"],
  }),
  args: {
    ...ctlArgs,
    action: { type: "positional", required: false, description: "status (default), add ID=HOST:PORT, remove ID, transfer ID" },
  },
  async run({ args }) {
    const [action = "status", arg, ...rest] = positionals(args);
    if (rest.length > 0) throw new LavaError(`cluster ${action}: unexpected arguments: ${rest.join(" ")}`, "usage");
    const ctx = connect(args);
    switch (action) {
      case "status":
        if (arg !== undefined) throw new LavaError(`cluster status takes no argument, got '${arg}'`, "usage");
        return status(ctx);
      case "add": {
        const m = /^([1-9]\d{0,9})=([^\s=]+:\d{1,5})$/.exec(arg ?? "");
        if (!m) throw new LavaError(`cluster add takes ID=HOST:PORT (the new master's node id and HTTP address), got '${arg ?? ""}'`, "usage");
        const answer = expectObject(await ctx.client.post("/api/v1/cluster/members", { id: Number(m[1]), address: m[2] }), "POST /api/v1/cluster/members");
        return ctx.json ? printJson(answer) : print(`node ${m[1]} (${m[2]}) added; it catches up from the leader`);
      }
      case "remove": {
        const id = nodeId(arg, "remove");
        const answer = expectObject(await ctx.client.delete(`/api/v1/cluster/members/${id}`), "DELETE /api/v1/cluster/members");
        return ctx.json ? printJson(answer) : print(`node ${id} removed`);
      }
      case "transfer": {
        const id = nodeId(arg, "transfer");
        const answer = expectObject(await ctx.client.post("/api/v1/cluster/transfer", { to: id }), "POST /api/v1/cluster/transfer");
        return ctx.json ? printJson(answer) : print(`leadership handed to node ${id}`);
      }
      default:
        throw new LavaError(`cluster: unknown action '${action}' (status, add, remove, transfer)`, "usage");
    }
  },
});
