/**
 * Job dependencies (`--after-ok`, `--after-any`, `--after-not-ok`, like
 * Slurm's afterok/afterany/afternotok and LSF's done()/ended()/exit()).
 * Pure: the caller says what state each named job is in.
 *
 * - after-ok X: X ended DONE;
 * - after-any X: X ended, whatever the state;
 * - after-not-ok X: X ended EXIT, KILLED or LOST.
 * An array as X stands for all its elements: it has ended once every
 * element has, and ended DONE if every element did.
 *
 * A dependency that can no longer be met (X ended EXIT for after-ok, DONE
 * for after-not-ok) makes the dependant end at once (KILLED, with that
 * reason) instead of waiting forever. Ids named must exist when the
 * dependant is submitted, so a cycle cannot be built.
 */

export interface Deps {
  afterOk?: readonly number[] | undefined;
  afterAny?: readonly number[] | undefined;
  afterNotOk?: readonly number[] | undefined;
}

/** A dependency target as the caller sees it: its state (an array's summary), or null if unknown. */
export type TargetState = "PEND" | "RUN" | "DONE" | "EXIT" | "KILLED" | "LOST";

export type DepVerdict = { kind: "ready" } | { kind: "wait"; reason: string } | { kind: "never"; reason: string };

const KINDS = [
  ["afterOk", "after-ok"],
  ["afterAny", "after-any"],
  ["afterNotOk", "after-not-ok"],
] as const;

export function depIds(deps: Deps | null | undefined): number[] {
  if (!deps) return [];
  const out = new Set<number>();
  for (const [k] of KINDS) for (const id of deps[k] ?? []) out.add(id);
  return [...out];
}

export function judgeDeps(deps: Deps | null | undefined, stateOf: (id: number) => TargetState | null): DepVerdict {
  if (!deps) return { kind: "ready" };
  const waits: string[] = [];
  for (const [key, flag] of KINDS) {
    for (const id of deps[key] ?? []) {
      const st = stateOf(id);
      if (st === null) return { kind: "never", reason: `dependency never satisfied: ${flag} ${id}, and job ${id} does not exist` };
      const ended = st !== "PEND" && st !== "RUN";
      if (!ended) {
        waits.push(`job ${id} (${st}) to end${key === "afterOk" ? " DONE" : key === "afterNotOk" ? " not DONE" : ""}`);
        continue;
      }
      if (key === "afterOk" && st !== "DONE") return { kind: "never", reason: `dependency never satisfied: --after-ok ${id}, and job ${id} ended ${st}` };
      if (key === "afterNotOk" && st === "DONE") return { kind: "never", reason: `dependency never satisfied: --after-not-ok ${id}, and job ${id} ended DONE` };
    }
  }
  if (waits.length === 0) return { kind: "ready" };
  const shown = waits.length > 3 ? `${waits.slice(0, 3).join(", ")} and ${waits.length - 3} more` : waits.join(", ");
  return { kind: "wait", reason: `waiting for ${shown}` };
}

/** An array's state for dependencies and for `lava ctl jobs`, from its elements' counts per state. */
export function arraySummaryState(counts: Readonly<Partial<Record<TargetState, number>>>): TargetState {
  if ((counts.RUN ?? 0) > 0) return "RUN";
  if ((counts.PEND ?? 0) > 0) return "PEND";
  for (const s of ["EXIT", "LOST", "KILLED"] as const) if ((counts[s] ?? 0) > 0) return s;
  return "DONE";
}
