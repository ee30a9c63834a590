import { defineCommand, type CommandDef } from "citty";
import { LavaError } from "../errors.ts";
import { completionScript, SHELLS, type Shell } from "./help/completion.ts";
import { commandTree } from "./help/tree.ts";
import { meta } from "./meta.ts";

/** `lava completion`; `root` is the command tree it describes (passed in: this module must not import root.ts, which imports it). */
export const completionCommand = (root: CommandDef) =>
  defineCommand({
  meta: meta({
    name: "completion",
    description: "Print the shell completion script for bash, zsh or fish, generated from lava's own command definitions",
    examples: [
      "lava completion bash > /etc/bash_completion.d/lava",
      "lava completion zsh > \"${fpath[1]}/_lava\"",
      "lava completion fish > ~/.config/fish/completions/lava.fish",
    ],
  }),
  args: {
    shell: { type: "positional", required: true, description: "bash, zsh or fish" },
  },
  async run({ args }) {
    const shell = String(args.shell);
    if (!(SHELLS as readonly string[]).includes(shell)) throw new LavaError(`completion: unknown shell "${shell}"; choose ${SHELLS.join(", ")}`, "usage");
    // Bun.write resolves once every byte is out, so main's exit cannot cut the script short in a pipe.
    await Bun.write(Bun.stdout, completionScript(shell as Shell, await commandTree(root)));
  },
});
