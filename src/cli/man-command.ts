import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defineCommand, type CommandDef } from "citty";
import { VERSION } from "../version.ts";
import { LavaError } from "../errors.ts";
import { manPage } from "./help/man.ts";
import { allNodes, commandTree } from "./help/tree.ts";
import { meta } from "./meta.ts";

/** `lava man`; `root` is the command tree it documents (passed in: this module must not import root.ts, which imports it). */
export const manCommand = (root: CommandDef) =>
  defineCommand({
  meta: meta({
    name: "man",
    description: "Print lava's manual page in roff (every command, its options and examples), or one command's; --out writes them all as files",
    examples: ["lava man | man -l -", "lava man ctl load | man -l -", "lava man --out /usr/local/share/man/man1"],
  }),
  args: {
    out: { type: "string", description: "Write lava.1 and one page per command (lava-ctl-load.1, …) into this directory instead", valueHint: "DIR" },
    command: { type: "positional", required: false, description: "The command whose page to print (e.g. ctl load); default: lava itself" },
  },
  async run({ args }) {
    const tree = await commandTree(root);
    const path = args._.map(String);
    const node = allNodes(tree).find((n) => n.path.join(" ") === path.join(" "));
    if (!node) throw new LavaError(`man: no command "lava ${path.join(" ")}" (lava --help lists them)`, "usage");
    if (args.out === undefined) {
      await Bun.write(Bun.stdout, manPage(tree, node, VERSION));
      return;
    }
    mkdirSync(args.out, { recursive: true });
    for (const n of allNodes(node)) {
      const file = join(args.out, `${["lava", ...n.path].join("-")}.1`);
      writeFileSync(file, manPage(tree, n, VERSION));
      console.error(`wrote ${file}`);
    }
  },
});
