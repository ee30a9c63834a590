import { defineCommand } from "citty";
import { COMMIT, VERSION } from "../version.ts";

export default defineCommand({
  meta: { name: "version", description: "Print the version and the build commit" },
  args: { json: { type: "boolean", description: "JSON output" } },
  run({ args }) {
    if (args.json) console.log(JSON.stringify({ version: VERSION, commit: COMMIT, bun: Bun.version }));
    else console.log(`lava ${VERSION} (commit ${COMMIT}, bun ${Bun.version})`);
  },
});
