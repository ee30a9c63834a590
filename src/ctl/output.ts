/**
 * Where `lava ctl` writes its results (tables, JSON, a token). Errors never go
 * here: commands throw LavaError and main prints them on stderr. Tests swap
 * the writer to capture output in-process.
 */
import { EXIT, ExitRequest } from "../cli/errors.ts";
import { LavaError } from "../errors.ts";

export interface Output {
  write(text: string | Uint8Array): void | Promise<void>;
}

/**
 * `Bun.write` resolves only when every byte is written, so main's
 * process.exit() cannot cut a long table short the way it can cut a pending
 * `process.stdout.write` to a pipe (observed at 64 KiB).
 *
 * A reader that went away (`lava ctl load | head -1`) is not an error: stop
 * quietly with exit 0, as the reader asked for no more. Any other write
 * failure (a full disk) is exit 1.
 */
const stdout: Output = {
  async write(text) {
    try {
      await Bun.write(Bun.stdout, text);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "EPIPE") throw new ExitRequest(EXIT.ok);
      throw new LavaError(`cannot write the output: ${(error as Error).message}`, "failed");
    }
  },
};

let current: Output = stdout;

/** Replaces the writer; returns the previous one so callers can restore it. */
export function setOutput(next: Output | null): Output {
  const prev = current;
  current = next ?? stdout;
  return prev;
}

/** Writes lines, each ended by a newline. */
export async function print(...lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await current.write(lines.join("\n") + "\n");
}

/** Bytes or text exactly as given (a master's JSON passed through). */
export async function printRaw(text: string | Uint8Array): Promise<void> {
  await current.write(text);
}

/** One JSON document and a newline (the `--json` contract, design §8). */
export async function printJson(value: unknown): Promise<void> {
  await current.write(JSON.stringify(value) + "\n");
}
