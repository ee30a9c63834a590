import { exitStatusOf } from "../../src/main.ts";
import { LavaError } from "../../src/errors.ts";

/** The exit code a LavaError thrown by `f` asks for, 0 if it returns, -1 for anything else thrown. */
export function exitCodeOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    return e instanceof LavaError ? exitStatusOf(e) : -1;
  }
  return 0;
}
