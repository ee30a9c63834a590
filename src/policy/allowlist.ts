/**
 * Command allowlists with argument patterns, one matcher for every list
 * that says which argv may run: `agent.exec.allow`, `master.exec.allow`,
 * `agent.jobs.allow` (docs/security.md "Allowlists"). Pure.
 *
 * An entry is either
 * - a string: argv[0] only, any arguments (the form every earlier version
 *   took); or
 * - an array `[command, pattern1, pattern2, …]`: argv[0] as above, then
 *   argument i must match pattern i, and there must be exactly as many
 *   arguments as patterns, unless the last pattern is `...`, which takes
 *   any further arguments (none included). `[/usr/bin/uptime]` allows
 *   uptime with no arguments at all.
 *
 * argv[0]: an entry with a '/' names one exact path; an entry without one is
 * a bare name and matches only that bare argv[0], which the agent looks up
 * in its PATH. Nothing is normalised or resolved, so nothing that is not
 * written in the list gets through: `/usr/bin/../bin/df` is not
 * `/usr/bin/df`.
 *
 * Argument patterns are regular expressions anchored at both ends (the
 * whole argument must match): `nginx|php-fpm` matches `nginx` and `php-fpm`
 * and nothing else, `[0-9]+` a number, `.*` anything. Why regexes and not
 * globs: alternatives ("restart nginx or php-fpm") are the common case, and
 * a glob cannot say them.
 */

export type AllowEntry = string | readonly string[];

/** The last pattern of an entry that takes any further arguments. */
export const REST = "...";

export type AllowVerdict =
  | { ok: true; entry: AllowEntry }
  | {
      ok: false;
      /**
       * The entry that came closest (its command matched and the most
       * arguments before the first mismatch), with why it did not match;
       * null when no entry names this command.
       */
      closest: { entry: AllowEntry; why: string } | null;
    };

const compiled = new Map<string, RegExp>();

/** The anchored form of an argument pattern; throws a SyntaxError naming the pattern if it is not a valid regex. */
export function argPattern(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    try {
      re = new RegExp(`^(?:${pattern})$`);
    } catch (e) {
      throw new SyntaxError(`argument pattern ${JSON.stringify(pattern)} is not a valid regular expression: ${(e as Error).message}`);
    }
    // Patterns come from configuration: a handful, compiled once.
    compiled.set(pattern, re);
  }
  return re;
}

/** Why an entry is malformed, or null. Config validation uses it so a bad pattern stops start-up, not a request. */
export function entryProblem(entry: AllowEntry): string | null {
  const parts = typeof entry === "string" ? [entry] : entry;
  if (parts.length === 0) return "an entry as a list needs at least the command";
  if (parts[0] === "") return "the command of an entry must not be empty";
  for (let i = 1; i < parts.length; i++) {
    if (parts[i] === REST) {
      if (i !== parts.length - 1) return `"${REST}" may only be the last pattern`;
      continue;
    }
    try {
      argPattern(parts[i]!);
    } catch (e) {
      return (e as Error).message;
    }
  }
  return null;
}

/** Whether argv[0] is what an entry's command names (exact; paths only match paths). */
export function commandMatches(entryCommand: string, argv0: string): boolean {
  return argv0 !== "" && entryCommand.includes("/") === argv0.includes("/") && entryCommand === argv0;
}

/** Checks argv against an allowlist. An empty list allows nothing. */
export function matchAllowlist(argv: readonly string[], entries: readonly AllowEntry[]): AllowVerdict {
  const argv0 = argv[0] ?? "";
  let closest: { entry: AllowEntry; why: string; score: number } | null = null;
  for (const entry of entries) {
    const parts = typeof entry === "string" ? null : entry;
    const command = parts ? (parts[0] ?? "") : (entry as string);
    if (!commandMatches(command, argv0)) continue;
    if (!parts) return { ok: true, entry };
    const r = argsMatch(argv, parts);
    if (r.ok) return { ok: true, entry };
    if (!closest || r.matched > closest.score) closest = { entry, why: r.why, score: r.matched };
  }
  return { ok: false, closest: closest ? { entry: closest.entry, why: closest.why } : null };
}

function argsMatch(argv: readonly string[], parts: readonly string[]): { ok: true } | { ok: false; matched: number; why: string } {
  const rest = parts.length > 1 && parts[parts.length - 1] === REST;
  const patterns = rest ? parts.slice(1, -1) : parts.slice(1);
  const args = argv.slice(1);
  for (let i = 0; i < patterns.length; i++) {
    const arg = args[i];
    if (arg === undefined) return { ok: false, matched: i, why: `argument ${i + 1} is missing (the entry wants ${JSON.stringify(patterns[i])})` };
    if (!argPattern(patterns[i]!).test(arg)) return { ok: false, matched: i, why: `argument ${i + 1} ${JSON.stringify(short(arg))} does not match ${JSON.stringify(patterns[i])}` };
  }
  if (!rest && args.length > patterns.length) {
    return { ok: false, matched: patterns.length, why: `the entry takes ${patterns.length} argument(s), not ${args.length} (end it with "${REST}" to allow more)` };
  }
  return { ok: true };
}

/** An entry as an operator writes it in YAML, for messages. */
export function entryText(entry: AllowEntry): string {
  return typeof entry === "string" ? entry : `[${entry.map((p) => JSON.stringify(p)).join(", ")}]`;
}

function short(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
