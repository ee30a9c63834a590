/**
 * What the fan-out commands (exec, upgrade) and logs share: the target
 * flags, and reading a streamed answer line by line.
 */
import { LavaError } from "../errors.ts";
import { ANSWER_BYTES_MAX } from "./client.ts";

export const targetArgs = {
  hosts: { type: "string", description: "Comma-separated host names", valueHint: "A,B" },
  all: { type: "boolean", description: "Every registered host" },
  queue: { type: "string", description: "The hosts of this queue's pool", valueHint: "Q" },
} as const;

export type TargetBody = { hosts: string[] } | { all: true } | { queue: string };

/** Exactly one of --hosts, --all, --queue, as the request body's target fields; anything else is exit 2. */
export function targetBody(args: { hosts?: string | undefined; all?: boolean | undefined; queue?: string | undefined }, command: string): TargetBody {
  const given = [args.hosts !== undefined, args.all === true, args.queue !== undefined].filter(Boolean).length;
  if (given !== 1) throw new LavaError(`${command} needs exactly one of --hosts A,B, --all or --queue Q`, "usage");
  if (args.hosts !== undefined) {
    const hosts = args.hosts.split(",").map((h) => h.trim()).filter(Boolean);
    if (hosts.length === 0) throw new LavaError("--hosts needs at least one host name (A,B,…)", "usage");
    return { hosts };
  }
  if (args.all === true) return { all: true };
  if (args.queue!.trim() === "") throw new LavaError("--queue must not be empty", "usage");
  return { queue: args.queue! };
}

/**
 * Calls `onLine` for each line of a streamed body as it arrives (without
 * its newline; a last line without one too). A line longer than
 * ANSWER_BYTES_MAX is refused rather than buffered.
 */
export async function eachLine(body: ReadableStream<Uint8Array> | null, onLine: (line: string) => void | Promise<void>): Promise<void> {
  if (!body) return;
  const dec = new TextDecoder();
  let partial = "";
  for await (const chunk of body) {
    partial += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      await onLine(line);
    }
    if (partial.length > ANSWER_BYTES_MAX) throw new LavaError(`the master sent a line of more than ${ANSWER_BYTES_MAX} bytes; refusing it`, "failed");
  }
  partial += dec.decode();
  if (partial !== "") await onLine(partial);
}

/** Each NDJSON object of a streamed body; a line that is not a JSON object means the other end is not a (matching) lava master. */
export async function eachEvent(body: ReadableStream<Uint8Array> | null, what: string, onEvent: (e: Record<string, unknown>) => void | Promise<void>): Promise<void> {
  await eachLine(body, async (line) => {
    if (line.trim() === "") return;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      throw new LavaError(`the master's answer to ${what} has a line that is not JSON; is it a lava master of a matching version?`, "failed");
    }
    if (typeof e !== "object" || e === null || Array.isArray(e)) throw new LavaError(`the master's answer to ${what} has a line that is not a JSON object`, "failed");
    await onEvent(e as Record<string, unknown>);
  });
}
