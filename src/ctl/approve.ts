import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";
import { LavaError } from "../errors.ts";
import { connect, ctlArgs, expectObject, oneName } from "./args.ts";
import { printExecStream } from "./exec.ts";
import { print, printJson } from "./output.ts";

/** The id of `lava ctl approve ID` / `deny ID`, checked before anything is sent (exit 2). */
export function approvalId(args: { _: unknown[] }, command: string): string {
  const id = oneName(args, "approval id", command);
  if (!/^[1-9]\d{0,15}$/.test(id)) throw new LavaError(`${command}: "${id}" is not an approval id (a whole number, see 'lava ctl approvals')`, "usage");
  return id;
}

export default defineCommand({
  meta: meta({
    name: "approve",
    description: "Approve a request another admin made (see lava ctl approvals): it runs now. An exec prints its output as lava ctl exec does (exit 0 only if every host exited 0); a job prints its job id (needs an admin token, not the requester's)",
    usage: "ID", examples: ["lava ctl approve 17", "lava ctl approve 17 --reason \"checked with the on-call\""],
  }),
  args: {
    ...ctlArgs,
    id: { type: "positional", description: "The approval id" },
    reason: { type: "string", description: "Why (kept in the audit log)", valueHint: "TEXT" },
  },
  async run({ args }) {
    const id = approvalId(args, "approve");
    const ctx = connect({ ...args, timeout: undefined });
    const path = `/api/v1/approvals/${id}/approve`;
    const res = await ctx.client.stream("POST", path, args.reason !== undefined ? { reason: args.reason } : {});
    if ((res.headers.get("content-type") ?? "").includes("ndjson")) {
      console.error(`lava: approval ${id} approved; running it`);
      await printExecStream(res, `POST ${path}`, ctx.json);
      return;
    }
    const answer = expectObject(await res.json(), `POST ${path}`);
    if (ctx.json) await printJson(answer);
    else await print(String(answer.jobId ?? answer.id));
  },
});
