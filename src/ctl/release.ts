import { defineCommand } from "citty";
import { connect, ctlArgs, positionals } from "./args.ts";
import { jobIds } from "./job-args.ts";
import { eachJob } from "./job-each.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "release", description: "Release held jobs: they wait for a host again (needs an admin token)", examples: ["lava ctl release 42", "lava ctl release 1000"] }),
  args: {
    ...ctlArgs,
    id: { type: "positional", description: "One or more job ids (an array id takes all its pending elements); an unknown one is reported and the rest still tried" },
  },
  async run({ args }) {
    const ids = jobIds(positionals(args), "release");
    const ctx = connect(args);
    await eachJob(ctx, ids, "release", (id) => `/api/v1/jobs/${encodeURIComponent(id)}/release`, undefined, (id, answer) => `${id} released ${typeof answer.released === "number" ? answer.released : ""}`.trim());
  },
});
