import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";
import { LavaError } from "../errors.ts";
import { approvalId } from "./approve.ts";
import { connect, ctlArgs, expectObject } from "./args.ts";
import { print, printJson } from "./output.ts";

export default defineCommand({
  meta: meta({ name: "deny", description: "Deny a request held for approval: it never runs; prints 'ID denied' (needs an admin token)", usage: "ID", examples: ["lava ctl deny 17 --reason \"not during business hours\""] }),
  args: {
    ...ctlArgs,
    id: { type: "positional", description: "The approval id" },
    reason: { type: "string", description: "Why (kept in the audit log and shown to the requester by lava ctl approvals --all); required", valueHint: "TEXT" },
  },
  async run({ args }) {
    const id = approvalId(args, "deny");
    if (args.reason === undefined || args.reason.trim() === "") throw new LavaError(`deny needs --reason: lava ctl deny ${id} --reason "why not"`, "usage");
    const ctx = connect(args);
    const answer = expectObject(await ctx.client.post(`/api/v1/approvals/${id}/deny`, { reason: args.reason }), "POST /api/v1/approvals/:id/deny");
    if (ctx.json) await printJson(answer);
    else await print(`${id} denied`);
  },
});
