#!/usr/bin/env bun
/**
 * The one `lava` executable (its commands: src/cli/root.ts). Only this file
 * exits the process; commands throw LavaError / ExitRequest or return.
 * Help, `--version` and unknown commands and flags are handled here, the
 * same way for every command.
 */
import { runCommand, type CommandDef, type ArgsDef } from "citty";
import { EXIT, ExitRequest, type ExitCode } from "./cli/errors.ts";
import { LavaError, type ErrorKind } from "./errors.ts";
import { unknownFlag } from "./cli/args.ts";
import { jitPolicyFor } from "./cli/jit.ts";
import { root } from "./cli/root.ts";
import { VERSION } from "./version.ts";

export { root };

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

interface Chain {
  cmd: CommandDef;
  /** The words naming it: ["ctl", "load"]. */
  path: string[];
  rest: string[];
  /** A word where a subcommand of `cmd` was expected (a command that only groups others). */
  unknown?: { word: string; choices: string[] };
}

/** Walks the subcommand chain the way citty will, so help and flag checks see the right command. */
async function resolveChain(cmd: CommandDef, rawArgs: string[], path: string[] = []): Promise<Chain> {
  const subs = cmd.subCommands ? await resolve(cmd.subCommands) : undefined;
  if (subs) {
    const idx = rawArgs.findIndex((a) => !a.startsWith("-"));
    const name = idx >= 0 ? rawArgs[idx] : undefined;
    const dashes = rawArgs.indexOf("--");
    if (name !== undefined && (dashes < 0 || idx < dashes)) {
      if (name in subs) return resolveChain((await resolve(subs[name]!)) as CommandDef, rawArgs.slice(idx + 1), [...path, name]);
      if (!cmd.run) return { cmd, path, rest: rawArgs, unknown: { word: name, choices: Object.keys(subs) } };
    }
  }
  return { cmd, path, rest: rawArgs };
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The closest choices to a mistyped word: within 2 edits, or sharing its first letters. */
export function suggest(word: string, choices: readonly string[]): string[] {
  const scored = choices.map((c) => ({ c, d: distance(word, c) })).filter(({ c, d }) => d <= Math.max(1, Math.min(2, Math.floor(c.length / 3))) || (word.length >= 3 && c.startsWith(word)));
  const best = Math.min(...scored.map((s) => s.d));
  return scored.filter((s) => s.d === best).map((s) => s.c);
}

const line = (path: string[]) => ["lava", ...path].join(" ");

/** Help for the command at `path`, wrapped and coloured for `stream`. */
async function helpText(path: string[], stream: NodeJS.WriteStream): Promise<string> {
  const { commandTree, allNodes } = await import("./cli/help/tree.ts");
  const { helpStyle, renderHelp } = await import("./cli/help/render.ts");
  const tree = await commandTree(root as CommandDef);
  const node = allNodes(tree).find((n) => n.path.join(" ") === path.join(" "))!;
  return renderHelp(node, helpStyle(stream));
}

class UsageError extends LavaError {
  constructor(message: string) {
    super(message, "usage");
  }
}

/** The one place an error's kind becomes an exit status (README.md, "Exit codes of `lava ctl`"). */
const EXIT_FOR: Record<ErrorKind, ExitCode> = { failed: EXIT.failed, usage: EXIT.usage, unreachable: EXIT.unreachable };

/** The exit status `lava` ends with for an error a command threw (EXIT.failed for anything unexpected). */
export function exitStatusOf(error: unknown): number {
  if (error instanceof ExitRequest) return error.exitCode;
  if (error instanceof LavaError) return EXIT_FOR[error.kind];
  if (error instanceof Error && error.name === "CLIError") return EXIT.usage;
  return EXIT.failed;
}

export async function main(rawArgs: string[]): Promise<number> {
  const beforeDashes = rawArgs.indexOf("--") >= 0 ? rawArgs.slice(0, rawArgs.indexOf("--")) : rawArgs;
  jitPolicyFor(rawArgs.find((a) => !a.startsWith("-")));
  try {
    const chain = await resolveChain(root as CommandDef, rawArgs);
    const def = chain.cmd.args ? ((await resolve(chain.cmd.args)) as ArgsDef) : {};
    const asked = (flag: string) => chain.rest.slice(0, chain.rest.includes("--") ? chain.rest.indexOf("--") : undefined).includes(flag);
    if (asked("--version") && !("version" in def)) {
      console.log(VERSION);
      return EXIT.ok;
    }
    if (beforeDashes.includes("--help") || beforeDashes.includes("-h")) {
      console.log(await helpText(chain.path, process.stdout));
      return EXIT.ok;
    }
    if (chain.unknown) {
      const close = suggest(chain.unknown.word, chain.unknown.choices);
      const hint = close.length ? `; did you mean ${close.map((c) => `"${c}"`).join(" or ")}?` : "";
      throw new UsageError(`unknown command "${chain.unknown.word}" for "${line(chain.path)}"${hint}\nRun '${line(chain.path)} --help' for the commands.`);
    }
    if (!chain.cmd.run) {
      console.error(await helpText(chain.path, process.stderr));
      return EXIT.usage;
    }
    const bad = unknownFlag(chain.rest, def);
    if (bad) throw new UsageError(`unknown option ${bad} for "${line(chain.path)}"\nRun '${line(chain.path)} --help' for its options.`);
    await runCommand(root, { rawArgs });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof ExitRequest) return exitStatusOf(error);
    if (error instanceof LavaError || (error instanceof Error && error.name === "CLIError")) console.error(`lava: ${error.message}`);
    else console.error("lava: unexpected error:", error);
    return exitStatusOf(error);
  }
}

// No top-level await: the binary is compiled to bytecode, which needs a plain entry.
if (import.meta.main) void main(process.argv.slice(2)).then((code) => process.exit(code));
