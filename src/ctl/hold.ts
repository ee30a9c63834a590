import { defineCommand } from "citty";
import { connect, ctlArgs, positionals } from "./args.ts";
import { jobIds } from "./job-args.ts";
import { eachJob } from "./job-each.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "hold",
    description: "Hold pending jobs (or every pending element of an array): they are not started until released (needs an admin token)",
    examples: ["lava ctl hold 42", "lava ctl hold 1000"],
  }),
  args: {
    ...ctlArgs,
    id: { type: "positional", description: "One or more job ids (an array id takes all its pending elements); an unknown one is reported and the rest still tried" },
  },
  async run({ args }) {
    const ids = jobIds(positionals(args), "hold");
    const ctx = connect(args);
    await eachJob(ctx, ids, "hold", (id) => `/api/v1/jobs/${encodeURIComponent(id)}/hold`, undefined, (id, answer) => `${id} held ${typeof answer.held === "number" ? answer.held : ""}`.trim());
  },
});
