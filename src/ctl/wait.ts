import { defineCommand } from "citty";
import { EXIT, ExitRequest } from "../cli/errors.ts";
import { LavaError } from "../errors.ts";
import { FINAL_STATES, type JobState } from "../jobs/types.ts";
import { connect, ctlArgs, expectObject, positionals } from "./args.ts";
import { MasterError, type MasterClient } from "./client.ts";
import { jobIds, jobPath, waitOptions, WAIT_INTERVAL_MS, type WaitOptions } from "./job-args.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

/** The poll interval grows by half each round in which no job changed state, up to this (or --interval, if larger). */
export const WAIT_BACKOFF_CAP_MS = 5_000;
/** Jobs asked about at once. */
export const WAIT_CONCURRENCY = 8;
/**
 * After the first answer, no master answering (or only 5xx, as during a
 * leader election) is waited out this long before giving up: a long wait
 * should not fail on a failover.
 */
export const WAIT_OUTAGE_MS = 60_000;

export default defineCommand({
  meta: meta({
    name: "wait",
    description: "Wait until jobs end, printing 'ID STATE' as each does; exit 0 when all ended DONE, else 1",
    examples: ["lava ctl wait 42", "lava ctl wait 42 43 --timeout 3600"],
  }),
  args: {
    ...ctlArgs,
    id: { type: "positional", description: "One or more job ids: ID ID… (an array id waits for all its elements, ID[INDEX] for one); exit 1 if any ends EXIT, KILLED or LOST, is unknown, or is still going at --timeout" },
    // Replaces ctlArgs.timeout here (design §8): how long to wait for the jobs. Each request then waits LAVA_TIMEOUT or ctl.timeout.
    timeout: { type: "string", description: "Give up after this many seconds (exit 1, naming the jobs still going); default: no limit", valueHint: "SECONDS" },
    interval: { type: "string", description: `Milliseconds between polls (default ${WAIT_INTERVAL_MS}; it backs off to ${WAIT_BACKOFF_CAP_MS / 1000} s while nothing changes)`, valueHint: "MS" },
  },
  async run({ args }) {
    const ids = jobIds(positionals(args), "wait");
    const opts = waitOptions(args);
    const ctx = connect({ ...args, timeout: undefined });
    const outcome = await waitForJobs(ctx.client, ids, {
      ...opts,
      onEnd: ctx.json ? undefined : (r) => print(`${r.id} ${r.state}`),
      onUnknown: (r) => console.error(`lava: job ${r.id}: ${r.error}`),
      onOutage: (message) => console.error(`lava: ${message}; still waiting`),
    });
    if (ctx.json) await printJson(outcome.results.map(({ id, state, exitCode, ended, error }) => ({ id: /^\d+$/.test(id) ? Number(id) : id, state, exitCode, ended, ...(error !== undefined ? { error } : {}) })));
    if (outcome.timedOut) {
      const going = outcome.results.filter((r) => !r.ended && r.error === undefined).map((r) => `${r.id} (${r.state ?? "?"})`);
      throw new LavaError(`timed out after ${args.timeout} s; not ended yet: ${going.join(", ")}`, "failed");
    }
    if (!outcome.results.every((r) => r.state === "DONE")) throw new ExitRequest(EXIT.failed);
  },
});

export interface WaitResult {
  id: string;
  /** The last state seen; null before the first answer, or for an unknown job. */
  state: string | null;
  exitCode: number | null;
  /** In a final state (DONE, EXIT, KILLED, LOST). */
  ended: boolean;
  /** The master's word when it does not know the job (404). */
  error?: string;
}

export interface WaitHooks {
  /** A job reached a final state (called once per job, as it happens). */
  onEnd?: ((r: WaitResult) => void | Promise<void>) | undefined;
  /** The master does not know the job (404); it is waited for no more. */
  onUnknown?: ((r: WaitResult) => void | Promise<void>) | undefined;
  /** No master answered (or only 5xx) after the first answer; called once per outage. */
  onOutage?: ((message: string) => void) | undefined;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Polls GET /api/v1/jobs/:id for each job until all are in a final state or
 * unknown, or the timeout passes (then `timedOut`, with the last state of
 * each). A failure other than 404 for one job, or no master at the first
 * poll, is thrown.
 */
export async function waitForJobs(
  client: Pick<MasterClient, "get">,
  ids: readonly string[],
  opts: WaitOptions & WaitHooks,
): Promise<{ results: WaitResult[]; timedOut: boolean }> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => Bun.sleep(ms));
  const results = ids.map((id): WaitResult => ({ id, state: null, exitCode: null, ended: false }));
  const deadline = opts.timeoutMs === undefined ? undefined : now() + opts.timeoutMs;
  const cap = Math.max(opts.intervalMs, Math.min(opts.intervalMs * 10, WAIT_BACKOFF_CAP_MS));
  let delay = opts.intervalMs;
  let answered = false;
  let outageSince: number | null = null;

  for (;;) {
    let changed = false;
    let outage: LavaError | null = null;
    const open = results.filter((r) => !r.ended && r.error === undefined);
    for (let i = 0; i < open.length; i += WAIT_CONCURRENCY) {
      const batch = open.slice(i, i + WAIT_CONCURRENCY);
      const answers = await Promise.allSettled(
        batch.map(async (r) => {
          const path = jobPath(r.id);
          return expectObject(await client.get(path), `GET ${path}`);
        }),
      );
      for (const [k, answer] of answers.entries()) {
        const r = batch[k]!;
        if (answer.status === "fulfilled") {
          answered = true;
          const job = answer.value;
          const state = typeof job.state === "string" ? job.state : null;
          if (state !== r.state) changed = true;
          r.state = state;
          r.exitCode = typeof job.exitCode === "number" ? job.exitCode : null;
          if (state !== null && FINAL_STATES.has(state as JobState)) {
            r.ended = true;
            await opts.onEnd?.(r);
          }
          continue;
        }
        const error = answer.reason as unknown;
        if (error instanceof MasterError && error.status === 404) {
          r.error = error.message;
          r.state = null;
          await opts.onUnknown?.(r);
        } else if (error instanceof LavaError && (error.kind === "unreachable" || (error instanceof MasterError && error.status >= 500))) {
          outage = error;
        } else {
          throw error;
        }
      }
    }
    if (outage !== null) {
      if (!answered) throw outage;
      if (outageSince === null) {
        outageSince = now();
        opts.onOutage?.(outage.message);
      } else if (now() - outageSince > WAIT_OUTAGE_MS) {
        throw outage;
      }
    } else {
      outageSince = null;
    }
    if (results.every((r) => r.ended || r.error !== undefined)) return { results, timedOut: false };
    if (deadline !== undefined && now() >= deadline) return { results, timedOut: true };
    delay = changed ? opts.intervalMs : Math.min(cap, Math.round(delay * 1.5));
    await sleep(deadline === undefined ? delay : Math.max(0, Math.min(delay, deadline - now())));
  }
}
