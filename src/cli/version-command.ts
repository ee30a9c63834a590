import { defineCommand } from "citty";
import { COMMIT, VERSION } from "../version.ts";
import { meta } from "./meta.ts";

export default defineCommand({
  meta: meta({ name: "version", description: "Print the version and the build commit", examples: ["lava version", "lava version --json"] }),
  args: { json: { type: "boolean", description: "JSON output" } },
  run({ args }) {
    if (args.json) console.log(JSON.stringify({ version: VERSION, commit: COMMIT, bun: Bun.version }));
    else console.log(`lava ${VERSION} (commit ${COMMIT}, bun ${Bun.version})`);
  },
});
