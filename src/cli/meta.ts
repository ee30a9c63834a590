/**
 * What lava adds to a citty command's meta: examples, and the usage words
 * where the positionals do not say them. Read by `--help`, `lava man` and
 * `lava completion` (src/cli/help/): one place per command, beside its flags.
 */
import type { CommandMeta } from "citty";

export interface LavaMeta extends CommandMeta {
  /** 1–3 command lines, each starting with `lava` (a test checks every command has them). */
  examples?: readonly string[];
  /** The usage line after `[OPTIONS]`, e.g. "-- COMMAND [ARG…]"; default: from the positionals. */
  usage?: string;
}

/** A command's meta with its examples (typed, so a typo in a key is caught). */
export const meta = (m: LavaMeta): CommandMeta => m;

/** The examples of a resolved meta, if any. */
export const examplesOf = (m: CommandMeta | undefined): readonly string[] => (m as LavaMeta | undefined)?.examples ?? [];

/** The usage words of a resolved meta, if it has its own. */
export const usageOf = (m: CommandMeta | undefined): string | null => (m as LavaMeta | undefined)?.usage ?? null;
