/**
 * Exit codes (design §8) and the one error type commands throw. Only
 * `main.ts` turns an error into a process exit.
 */
export const EXIT = {
  ok: 0,
  /** The request failed: unknown host or job, refused, a remote failure. */
  failed: 1,
  /** Usage or configuration error. */
  usage: 2,
  /** No master could be reached. */
  unreachable: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class LavaError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = "LavaError";
  }
}

/** A command that wants a specific exit code without an error message (e.g. `ctl check`). */
export class ExitRequest extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = "ExitRequest";
  }
}
