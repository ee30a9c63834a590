/**
 * The command tree as plain data, resolved from the citty definitions (lazy
 * subcommands imported): the one source for `--help`, `lava completion`
 * and `lava man`, so none of them is kept by hand.
 */
import type { ArgsDef, CommandDef } from "citty";
import { examplesOf, usageOf } from "../meta.ts";

export interface FlagInfo {
  name: string;
  /** Single-letter and other aliases (without dashes). */
  aliases: string[];
  /** A value follows the flag. */
  takesValue: boolean;
  valueHint: string;
  description: string;
  /** A boolean that is on by default, turned off with --no-NAME. */
  negatable: boolean;
}

export interface PositionalInfo {
  name: string;
  description: string;
  required: boolean;
}

export interface CommandNode {
  name: string;
  /** From the root: [] for lava itself, ["ctl", "load"] for `lava ctl load`. */
  path: string[];
  description: string;
  examples: readonly string[];
  /** The words after the command name in the usage line, when the positionals do not say it (`-- ARGV…`). */
  usage: string | null;
  flags: FlagInfo[];
  positionals: PositionalInfo[];
  subcommands: CommandNode[];
  runnable: boolean;
}

type Resolvable<T> = T | Promise<T> | (() => T | Promise<T>);

async function resolve<T>(value: Resolvable<T>): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** --help on every command; --version where lava prints the version (main.ts). */
const HELP: FlagInfo = { name: "help", aliases: ["h"], takesValue: false, valueHint: "", description: "Show this help", negatable: false };
const VERSION: FlagInfo = { name: "version", aliases: [], takesValue: false, valueHint: "", description: "Print the version", negatable: false };

export async function commandTree(cmd: CommandDef, path: string[] = []): Promise<CommandNode> {
  const meta = cmd.meta ? await resolve(cmd.meta) : undefined;
  const args = (cmd.args ? await resolve(cmd.args) : {}) as ArgsDef;
  const flags: FlagInfo[] = [];
  const positionals: PositionalInfo[] = [];
  for (const [name, a] of Object.entries(args)) {
    if (a.type === "positional") {
      positionals.push({ name: name.toUpperCase(), description: a.description ?? "", required: a.required !== false && a.default === undefined });
      continue;
    }
    const alias = "alias" in a ? a.alias : undefined;
    flags.push({
      name,
      aliases: Array.isArray(alias) ? [...alias] : alias ? [alias] : [],
      takesValue: a.type === "string" || a.type === "enum",
      valueHint: ("valueHint" in a && a.valueHint) || (a.type === "string" || a.type === "enum" ? "VALUE" : ""),
      description: a.description ?? "",
      negatable: a.type === "boolean" && a.default === true,
    });
  }
  const subs = cmd.subCommands ? await resolve(cmd.subCommands) : {};
  const subcommands: CommandNode[] = [];
  for (const [name, sub] of Object.entries(subs)) subcommands.push(await commandTree((await resolve(sub)) as CommandDef, [...path, name]));
  const versionFlag = subcommands.length > 0 && !flags.some((f) => f.name === "version");
  return {
    name: path.length ? path[path.length - 1]! : (meta?.name ?? "lava"),
    path,
    description: meta?.description ?? "",
    examples: examplesOf(meta),
    usage: usageOf(meta),
    flags: [...flags, ...(versionFlag ? [VERSION] : []), HELP],
    positionals,
    subcommands,
    runnable: typeof cmd.run === "function",
  };
}

/** Every node, depth first, the root first. */
export function allNodes(root: CommandNode): CommandNode[] {
  return [root, ...root.subcommands.flatMap(allNodes)];
}

/** "lava ctl load" */
export const commandLine = (n: CommandNode): string => ["lava", ...n.path].join(" ");

/** The usage line's words after the command: [OPTIONS], COMMAND for groups, positionals or the meta's own. */
export function usageWords(n: CommandNode): string {
  const words: string[] = [];
  if (n.subcommands.length > 0 && !n.runnable) words.push("COMMAND");
  if (n.flags.length > 0) words.push("[OPTIONS]");
  if (n.usage !== null) words.push(n.usage);
  else for (const p of n.positionals) words.push(p.required ? p.name : `[${p.name}…]`);
  return words.join(" ");
}
