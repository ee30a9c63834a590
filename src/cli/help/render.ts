/**
 * `--help` text: plain (no ANSI) unless stdout is a terminal and NO_COLOR is
 * unset, wrapped to the terminal width (COLUMNS, else the terminal's, else
 * 80), usage lines starting with `lava`, examples at the end. Pure: width
 * and colour come in.
 */
import { commandLine, usageWords, type CommandNode, type FlagInfo } from "./tree.ts";

export interface HelpStyle {
  width: number;
  color: boolean;
}

/** The width and colour for a stream, from the environment. */
export function helpStyle(stream: { isTTY?: boolean; columns?: number }, env: Record<string, string | undefined> = process.env): HelpStyle {
  const cols = Number(env.COLUMNS);
  const width = Number.isInteger(cols) && cols >= 20 ? cols : stream.isTTY && stream.columns && stream.columns >= 20 ? stream.columns : 80;
  const color = stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== "dumb";
  return { width: Math.min(width, 200), color };
}

/** Words of `text` in lines of at most `width` characters, the lines after the first indented by `indent`. A word longer than a line gets a line of its own. */
export function wrap(text: string, width: number, indent = 0, firstIndent = indent): string {
  const lines: string[] = [];
  let line = "";
  let room = Math.max(10, width - firstIndent);
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
      room = Math.max(10, width - indent);
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : " ".repeat(indent) + l)).join("\n");
}

/** The spellings of a flag: -l, --long; a flag on by default is shown as --no-NAME, the way it is used. */
export function flagNames(f: FlagInfo): string[] {
  if (f.negatable) return [`--no-${f.name}`];
  return [...f.aliases.filter((a) => a.length === 1).map((a) => `-${a}`), `--${f.name}`, ...f.aliases.filter((a) => a.length > 1).map((a) => `--${a}`)];
}

/** "-l, --long" or "    --master ADDRS" (long flags aligned under each other). */
export function flagLabel(f: FlagInfo): string {
  const names = flagNames(f);
  // A flag whose value may be left out (--watch [SECONDS]) is a boolean with a hint.
  const value = f.takesValue ? ` ${f.valueHint}` : f.valueHint ? ` [${f.valueHint}]` : "";
  return `${names[0]!.startsWith("--") ? "    " : ""}${names.join(", ")}${value}`;
}

/** Two columns, the second wrapped; a left cell too wide for the column puts its text on the next line. */
function columns(rows: [string, string][], width: number): string {
  const LEFT_MAX = 30;
  const left = Math.min(LEFT_MAX, Math.max(0, ...rows.map(([l]) => l.length)));
  const descAt = 2 + left + 2;
  return rows
    .map(([l, d]) => {
      if (d === "") return `  ${l}`;
      if (l.length > left) return `  ${l}\n${" ".repeat(descAt)}${wrap(d, width, descAt)}`;
      return `  ${l.padEnd(left)}  ${wrap(d, width, descAt)}`;
    })
    .join("\n");
}

export function renderHelp(n: CommandNode, style: HelpStyle): string {
  const head = (s: string) => (style.color ? `\x1b[1m${s}\x1b[22m` : s);
  const w = style.width;
  const out: string[] = [];
  out.push(wrap(`${commandLine(n)} - ${n.description}`, w, 2));
  out.push("", head("Usage:"), `  ${wrap(`${commandLine(n)} ${usageWords(n)}`.trimEnd(), w, 4, 2)}`);
  if (n.positionals.length > 0) {
    out.push("", head("Arguments:"), columns(n.positionals.map((p) => [p.name, p.description]), w));
  }
  if (n.subcommands.length > 0) {
    out.push("", head("Commands:"), columns(n.subcommands.map((s) => [s.name, s.description]), w));
  }
  if (n.flags.length > 0) {
    out.push("", head("Options:"), columns(n.flags.map((f) => [flagLabel(f), f.description]), w));
  }
  if (n.examples.length > 0) {
    out.push("", head("Examples:"), ...n.examples.map((e) => `  ${wrap(e, w, 4, 2)}`));
  }
  if (n.subcommands.length > 0) out.push("", wrap(`Run '${commandLine(n)} COMMAND --help' for the options of a command.`, w));
  return out.join("\n");
}
