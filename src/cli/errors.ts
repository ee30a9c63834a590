/**
 * Exit codes (design §8), and the request of a command for a specific exit
 * status without an error message. Errors are LavaError (src/errors.ts),
 * whose kind src/main.ts turns into one of these; only main.ts exits.
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

/** A command that wants a specific exit code without an error message (e.g. `ctl check`, whose codes are Nagios's). */
export class ExitRequest extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = "ExitRequest";
  }
}
