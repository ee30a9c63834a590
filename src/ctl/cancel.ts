import { defineCommand } from "citty";
import { EXIT, ExitRequest, LavaError } from "../cli/errors.ts";
import { connect, ctlArgs, expectObject, positionals } from "./args.ts";
import { MasterError } from "./client.ts";
import { jobIds } from "./job-args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "cancel",
    description: "End pending or running jobs as KILLED, printing 'ID KILLED'; exit 1 if any could not be (needs an admin token)",
    examples: ["lava ctl cancel 42", "lava ctl cancel 42 43 44"],
  }),
  args: {
    ...ctlArgs,
    id: { type: "positional", description: "One or more job ids: ID ID…; an unknown or already ended one is reported and the rest still tried" },
  },
  async run({ args }) {
    const ids = jobIds(positionals(args), "cancel");
    const ctx = connect(args);
    const results: Record<string, unknown>[] = [];
    let failed = 0;
    for (const id of ids) {
      const path = `/api/v1/jobs/${id}/cancel`;
      try {
        const answer = expectObject(await ctx.client.post(path), `POST ${path}`);
        const state = typeof answer.state === "string" ? answer.state : "KILLED";
        if (ctx.json) results.push(answer);
        else await print(`${id} ${state}`);
      } catch (error) {
        // Only the master's refusal of this one job (unknown, already ended)
        // lets the others go on; no master, or a token it refuses, fails them all alike.
        if (!(error instanceof MasterError) || error.status === 401 || error.status === 403 || error.status >= 500) throw error;
        failed++;
        console.error(`lava: cannot cancel job ${id}: ${error.message}`);
        if (ctx.json) results.push({ id: Number(id), error: error.code ?? `http_${error.status}`, detail: error.message });
      }
    }
    if (ctx.json) await printJson(results);
    if (failed > 0) {
      if (ids.length === 1) throw new ExitRequest(EXIT.failed);
      throw new LavaError(`${failed} of ${ids.length} jobs not cancelled`, EXIT.failed);
    }
  },
});
