/** What `lava ctl exec` and `submit` show of a request the master held for approval (docs/api.md "Approvals"). */
import { LavaError } from "../errors.ts";
import { print, printJson } from "./output.ts";

/**
 * A request the master holds for approval (202): its approval id alone on
 * stdout (like submit's job id), what to do on stderr; `--json` the answer.
 */
export async function printHeld(answer: unknown, json: boolean): Promise<void> {
  const a = (typeof answer === "object" && answer !== null ? answer : {}) as { id?: unknown; detail?: unknown };
  if (typeof a.id !== "number") throw new LavaError("the master held the request but its answer has no approval id", "failed");
  if (json) {
    await printJson(answer);
    return;
  }
  await print(String(a.id));
  console.error(`lava: held for approval ${a.id}: ${typeof a.detail === "string" ? a.detail : "another admin must run 'lava ctl approve " + a.id + "'"}`);
}
