/**
 * The error any layer throws when the user must act: its message says what
 * to do, its kind says what sort of failure it is. Lower layers (config,
 * auth, store, the master and the agent) know nothing of processes: only
 * src/main.ts turns a kind into an exit status (README.md, "Exit codes of `lava ctl`").
 */
export type ErrorKind =
  /** The request failed: unknown host or job, refused, a remote failure, state that cannot be written. */
  | "failed"
  /** Usage or configuration: a flag, a file, a key, a port that cannot be used as given. */
  | "usage"
  /** No master could be reached. */
  | "unreachable";

export class LavaError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind = "failed",
  ) {
    super(message);
    this.name = "LavaError";
  }
}
