/**
 * Reading a job's output while it runs (`lava ctl peek`, `lava ctl job ID
 * --follow`): GET /api/v1/jobs/:id/output from byte offsets. The master
 * asks the agent for what the job has written since; once the job has
 * ended, the recorded output answers.
 */
import { LavaError } from "../errors.ts";
import { expectObject } from "./args.ts";
import type { MasterClient } from "./client.ts";
import { jobPath } from "./job-args.ts";

/** Between polls while following. */
export const FOLLOW_INTERVAL_MS = 500;

export interface OutputPiece {
  state: string;
  running: boolean;
  ended: boolean;
  stdout: string;
  stderr: string;
  stdoutFrom: number;
  stderrFrom: number;
  stdoutTotal: number;
  stderrTotal: number;
  error?: string;
  stdoutPath?: string | null;
  stderrPath?: string | null;
}

export async function readOutput(client: Pick<MasterClient, "get">, id: string, stdoutFrom = 0, stderrFrom = 0): Promise<OutputPiece> {
  const path = `${jobPath(id)}/output?stdoutFrom=${stdoutFrom}&stderrFrom=${stderrFrom}`;
  const o = expectObject(await client.get(path), `GET ${path}`);
  const n = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : 0);
  const t = (x: unknown) => (typeof x === "string" ? x : "");
  return {
    state: t(o.state),
    running: o.running === true,
    ended: o.ended === true,
    stdout: t(o.stdout),
    stderr: t(o.stderr),
    stdoutFrom: n(o.stdoutFrom),
    stderrFrom: n(o.stderrFrom),
    stdoutTotal: n(o.stdoutTotal),
    stderrTotal: n(o.stderrTotal),
    ...(typeof o.error === "string" ? { error: o.error } : {}),
    stdoutPath: typeof o.stdoutPath === "string" ? o.stdoutPath : null,
    stderrPath: typeof o.stderrPath === "string" ? o.stderrPath : null,
  };
}

/**
 * Writes the job's output as it comes until the job ends. A gap (the agent
 * keeps the head and the last 64 KiB of each stream) is marked.
 */
export async function followOutput(
  client: Pick<MasterClient, "get">,
  id: string,
  out: { stdout: (text: string) => void; stderr: (text: string) => void },
  opts: { intervalMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const sleep = opts.sleep ?? ((ms: number) => Bun.sleep(ms));
  let o = 0;
  let e = 0;
  for (;;) {
    const p = await readOutput(client, id, o, e);
    if (p.stdoutFrom > o) out.stderr(`[lava: ${p.stdoutFrom - o} bytes of stdout not kept]\n`);
    if (p.stderrFrom > e) out.stderr(`[lava: ${p.stderrFrom - e} bytes of stderr not kept]\n`);
    if (p.stdout) out.stdout(p.stdout);
    if (p.stderr) out.stderr(p.stderr);
    o = Math.max(o, p.stdoutFrom + Buffer.byteLength(p.stdout));
    e = Math.max(e, p.stderrFrom + Buffer.byteLength(p.stderr));
    if (p.ended) return;
    await sleep(opts.intervalMs ?? FOLLOW_INTERVAL_MS);
  }
}

/** What `peek` says when there is nothing to show. */
export function notRunning(id: string, p: OutputPiece): LavaError {
  return new LavaError(`job ${id} is ${p.state}: ${p.error ?? "no output yet"}`, "failed");
}
