/**
 * Manual pages in roff (man(7) macros), generated from the command tree
 * (tree.ts) like --help and the completion scripts: `lava man` is lava(1)
 * with every command, its options and examples; `lava man ctl load` is the
 * page of one command, lava-ctl-load(1). Pure.
 */
import { flagNames } from "./render.ts";
import { allNodes, commandLine, usageWords, type CommandNode } from "./tree.ts";

/** Text safe in roff: backslashes and hyphens escaped, no line starting with a control character, other than ASCII as \[uXXXX]. */
export function roff(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/^([.'])/gm, "\\&$1")
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`);
}

const bold = (s: string) => `\\fB${roff(s)}\\fR`;
const italic = (s: string) => `\\fI${roff(s)}\\fR`;

function section(n: CommandNode, heading: (s: string) => string): string[] {
  const out: string[] = [];
  out.push(heading(`${commandLine(n)} ${usageWords(n)}`.trimEnd()));
  if (n.description) out.push(roff(n.description));
  if (n.positionals.length > 0) {
    for (const p of n.positionals) out.push(".TP", italic(p.name), roff(p.description));
  }
  for (const f of n.flags) {
    out.push(".TP", flagNames(f).map(bold).join(", ") + (f.takesValue ? ` ${italic(f.valueHint)}` : ""), roff(f.description));
  }
  if (n.subcommands.length > 0) {
    out.push(".PP", `Commands: ${n.subcommands.map((s) => bold(s.name)).join(", ")}.`);
  }
  if (n.examples.length > 0) {
    out.push(".PP", "Examples:", ".PP", ".RS", ".nf", ...n.examples.map(roff), ".fi", ".RE");
  }
  return out;
}

const COMMON = [
  ".SH EXIT STATUS",
  ".TP",
  "0",
  "Success.",
  ".TP",
  "1",
  roff("The request failed (an unknown host or job, refused, a bad token)."),
  ".TP",
  "2",
  roff("Usage or configuration error (a bad flag, an unknown config key or value)."),
  ".TP",
  "3",
  roff("No master could be reached. lava ctl check uses 0-3 as OK, WARNING, CRITICAL, UNKNOWN."),
  ".SH ENVIRONMENT",
  ".TP",
  bold("LAVA_CONFIG"),
  roff("The config file (default /etc/lava/lava.yaml when it exists)."),
  ".TP",
  bold("LAVA_MASTER"),
  roff("Masters to ask (host:port, comma-separated)."),
  ".TP",
  bold("LAVA_TOKEN"),
  roff("Access token. Every config key has a LAVA_ variable: see docs/configuration.md."),
  ".TP",
  bold("NO_COLOR"),
  roff("No colour in help on a terminal (never any when not on a terminal)."),
  ".SH FILES",
  ".TP",
  italic("/etc/lava/lava.yaml"),
  roff("Configuration, sections master:, agent:, ctl:."),
  ".TP",
  italic("/var/lib/lava"),
  roff("A master's data dir (as root): secret, admin.token, lava.db."),
  ".TP",
  italic("/var/lib/lava-agent"),
  roff("An agent's state dir (as root)."),
  ".SH SEE ALSO",
  roff("lava completion bash|zsh|fish; docs/operations.md, docs/api.md, docs/configuration.md in the lava sources."),
];

/** The page of `node` (default the root): lava(1) describes every command, a command's page itself and its subcommands. */
export function manPage(root: CommandNode, node: CommandNode = root, version = ""): string {
  const title = ["lava", ...node.path].join("-");
  const out = [
    `.TH ${roff(title.toUpperCase())} 1 "" "lava ${roff(version)}" "User Commands"`,
    ".SH NAME",
    `${roff(title)} \\- ${roff(node.description)}`,
    ".SH SYNOPSIS",
    `${bold(commandLine(node))} ${roff(usageWords(node))}`,
    ".SH DESCRIPTION",
    ...section(node, () => ".PP").slice(1),
  ];
  const below = allNodes(node).slice(1);
  if (below.length > 0) {
    out.push(".SH COMMANDS");
    for (const n of below) out.push(...section(n, (s) => `.SS "${roff(s).replace(/"/g, '\\(dq')}"`));
  }
  out.push(...COMMON, "");
  return out.join("\n");
}
