/**
 * What lava adds to a citty command's meta: examples, shown by `--help`
 * and `lava man` (src/cli/help/). One place per command, beside its flags.
 */
import type { CommandMeta } from "citty";

export interface LavaMeta extends CommandMeta {
  /** 1–3 command lines, each starting with `lava` (a test checks every command has them). */
  examples?: readonly string[];
}

/** A command's meta with its examples (typed, so a typo in a key is caught). */
export const meta = (m: LavaMeta): CommandMeta => m;

/** The examples of a resolved meta, if any. */
export const examplesOf = (m: CommandMeta | undefined): readonly string[] => (m as LavaMeta | undefined)?.examples ?? [];
