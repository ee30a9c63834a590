/**
 * One POST per job for the job commands that take many ids (cancel, hold,
 * release): each is tried, a refusal of one (unknown, already ended) is
 * reported and the others still go; no master, or a token it refuses,
 * stops them all. Exit 1 if any failed.
 */
import { EXIT, ExitRequest } from "../cli/errors.ts";
import { LavaError } from "../errors.ts";
import { expectObject, type CtlContext } from "./args.ts";
import { MasterError } from "./client.ts";
import { print, printJson } from "./output.ts";

/** Requests in flight at once for bulk actions. */
export const EACH_CONCURRENCY = 8;

export async function eachJob(
  ctx: CtlContext,
  ids: readonly string[],
  verb: string,
  path: (id: string) => string,
  body: unknown,
  line: (id: string, answer: Record<string, unknown>) => string,
): Promise<void> {
  const results: Record<string, unknown>[] = [];
  let failed = 0;
  // The first alone: a token the master refuses, or no master, then stops everything after one request.
  for (let i = 0; i < ids.length; i += i === 0 ? 1 : EACH_CONCURRENCY) {
    const batch = ids.slice(i, i === 0 ? 1 : i + EACH_CONCURRENCY);
    const answers = await Promise.allSettled(batch.map(async (id) => expectObject(await ctx.client.post(path(id), body), `POST ${path(id)}`)));
    for (const [k, a] of answers.entries()) {
      const id = batch[k]!;
      if (a.status === "fulfilled") {
        if (ctx.json) results.push(a.value);
        else await print(line(id, a.value));
        continue;
      }
      const error = a.reason as unknown;
      if (!(error instanceof MasterError) || error.status === 401 || error.status === 403 || error.status >= 500) throw error;
      failed++;
      console.error(`lava: cannot ${verb} job ${id}: ${error.message}`);
      if (ctx.json) results.push({ id: /^\d+$/.test(id) ? Number(id) : id, error: error.code ?? `http_${error.status}`, detail: error.message });
    }
  }
  if (ctx.json) await printJson(results);
  if (failed > 0) {
    if (ids.length === 1) throw new ExitRequest(EXIT.failed);
    throw new LavaError(`${failed} of ${ids.length} jobs not ${verb === "cancel" ? "cancelled" : `${verb}ed`}`, "failed");
  }
}
