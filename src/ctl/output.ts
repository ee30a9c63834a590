/**
 * Where `lava ctl` writes its results (tables, JSON, a token). Errors never go
 * here: commands throw LavaError and main prints them on stderr. Tests swap
 * the writer to capture output in-process.
 */
export interface Output {
  write(text: string): void | Promise<void>;
}

/**
 * `Bun.write` resolves only when every byte is written, so main's
 * process.exit() cannot cut a long table short the way it can cut a pending
 * `process.stdout.write` to a pipe (observed at 64 KiB).
 */
const stdout: Output = {
  async write(text) {
    await Bun.write(Bun.stdout, text);
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

/** One JSON document and a newline (the `--json` contract, design §8). */
export async function printJson(value: unknown): Promise<void> {
  await current.write(JSON.stringify(value) + "\n");
}
