/**
 * Help, completion and man pages come from the one command tree: every
 * command and flag appears in all of them, examples are real command lines,
 * help is plain and wrapped when piped, mistakes are named (exit 2).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ArgsDef, CommandDef } from "citty";
import pkg from "../../package.json" with { type: "json" };
import { acceptedFlags } from "../../src/cli/args.ts";
import { completionScript, SHELLS } from "../../src/cli/help/completion.ts";
import { manPage, roff } from "../../src/cli/help/man.ts";
import { flagNames, renderHelp, wrap } from "../../src/cli/help/render.ts";
import { allNodes, commandLine, commandTree, type CommandNode } from "../../src/cli/help/tree.ts";
import { root } from "../../src/cli/root.ts";
import { suggest } from "../../src/main.ts";
import { runLava } from "../helpers/binary.ts";

let tree: CommandNode;
let nodes: CommandNode[];
beforeAll(async () => {
  tree = await commandTree(root as CommandDef);
  nodes = allNodes(tree);
});

/** The citty definition at a path, for checking examples against what citty accepts. */
async function defAt(path: string[]): Promise<ArgsDef> {
  let cmd = root as CommandDef;
  for (const p of path) {
    const subs = typeof cmd.subCommands === "function" ? await cmd.subCommands() : await cmd.subCommands;
    const sub = subs![p]!;
    cmd = (typeof sub === "function" ? await sub() : await sub) as CommandDef;
  }
  return (typeof cmd.args === "function" ? await cmd.args() : await cmd.args) ?? {};
}

describe("the command tree", () => {
  test("has every command, groups included", () => {
    const paths = nodes.map((n) => n.path.join(" "));
    for (const p of ["", "master", "agent", "ctl", "ctl load", "ctl token create", "ctl host remove", "install", "uninstall", "completion", "man", "version"]) expect(paths).toContain(p);
  });

  test("every command has 1-3 examples, each a command line of that command whose flags it accepts", async () => {
    for (const n of nodes) {
      expect({ command: commandLine(n), examples: n.examples.length >= 1 && n.examples.length <= 3 }).toEqual({ command: commandLine(n), examples: true });
      for (const e of n.examples) {
        // `VAR=x lava …` and `id=$(lava …)` are command lines too.
        const at = e.indexOf("lava ");
        expect(at === 0 || /^(\w+=\S+ )+lava |^\w+=\$\(lava /.test(e)).toBe(true);
        const words = e.slice(at).split(/ [|>] /)[0]!.replace(/\$\([^)]*\)|"[^"]*"|'[^']*'/g, "X").split(/\s+/);
        const group = n.subcommands.length > 0 && !n.runnable;
        if (!group) expect(words.slice(0, n.path.length + 1).join(" ")).toBe(commandLine(n));
        const sub = group ? n.subcommands.find((s) => s.name === words[n.path.length + 1]) : undefined;
        const target = sub ?? n;
        const accepted = acceptedFlags(await defAt(target.path));
        for (const w of words.slice(0, words.includes("--") ? words.indexOf("--") : undefined)) {
          if (!w.startsWith("-") || w === "-" || /^-\d/.test(w) || w.startsWith("-load")) continue;
          expect(`${e}: ${w}`).toBe(`${e}: ${accepted.has(w.replace(/^--?/, "").split("=")[0]!) ? w : "(not a flag of this command)"}`);
        }
      }
    }
  });
});

describe("help", () => {
  test("plain text, wrapped to the width, usage and examples starting with lava", () => {
    for (const n of nodes) {
      const text = renderHelp(n, { width: 60, color: false });
      expect(text).not.toContain("\x1b");
      expect(text).toContain(`Usage:\n  ${commandLine(n)}`);
      for (const l of text.split("\n")) if (!/\S{40,}/.test(l)) expect(`${commandLine(n)}: ${l}`.length - commandLine(n).length - 2).toBeLessThanOrEqual(60);
      for (const e of n.examples) expect(text).toContain(`  ${e.slice(0, 20)}`);
    }
    expect(renderHelp(tree, { width: 80, color: true })).toContain("\x1b[1mUsage:");
  });

  test("wrap keeps words whole and indents the lines after the first", () => {
    expect(wrap("aaa bbb ccc ddd", 9, 2)).toBe("aaa bbb\n  ccc ddd");
    expect(wrap("averyveryverylongword x", 10, 0)).toBe("averyveryverylongword\nx");
  });

  test("suggestions for a mistyped command", () => {
    expect(suggest("lod", ["load", "logs", "hosts"])).toEqual(["load"]);
    expect(suggest("hots", ["load", "hosts", "host"])).toEqual(["hosts"]);
    expect(suggest("tokn", ["token", "top"])).toEqual(["token"]);
    expect(suggest("frobnicate", ["load", "hosts"])).toEqual([]);
  });

  test("the binary: piped help has no colour and fits COLUMNS; usage errors go to stderr with exit 2", async () => {
    const r = await runLava(["ctl", "load", "--help"], { env: { COLUMNS: "50", TERM: "xterm-256color" } });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("\x1b");
    expect(r.stdout).toStartWith("lava ctl load - ");
    expect(r.stdout).toContain("Usage:\n  lava ctl load [OPTIONS] [HOST…]");
    for (const l of r.stdout.split("\n")) if (!/\S{40,}/.test(l)) expect(l.length).toBeLessThanOrEqual(50);
    const wide = await runLava(["ctl", "--help"], { env: { TERM: "xterm-256color" } });
    for (const l of wide.stdout.split("\n")) expect(l.length).toBeLessThanOrEqual(80);

    const lod = await runLava(["ctl", "lod"]);
    expect(lod.code).toBe(2);
    expect(lod.stdout).toBe("");
    expect(lod.stderr).toContain('unknown command "lod"');
    expect(lod.stderr).toContain('did you mean "load"?');
    const flag = await runLava(["ctl", "load", "--lond"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option --lond");
    const bare = await runLava(["ctl"]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe("");
    expect(bare.stderr).toContain("Usage:\n  lava ctl COMMAND");
  }, 30_000);

  test("--version at the top and on ctl prints the version", async () => {
    for (const args of [["--version"], ["ctl", "--version"]]) {
      const r = await runLava(args);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  }, 30_000);
});

/** Every spelling a user types: --name, -x, and --no-name for a negatable flag. */
const typed = (n: CommandNode) => n.flags.flatMap(flagNames);

describe("completion", () => {
  test("each script names every command and flag", () => {
    for (const shell of SHELLS) {
      const script = completionScript(shell, tree);
      for (const n of nodes) {
        if (n.path.length) expect(`${shell}: ${script.includes(n.name) ? n.name : "missing"}`).toBe(`${shell}: ${n.name}`);
        for (const f of typed(n)) {
          const asShellWrites = shell === "fish" ? (f.startsWith("--") ? `-l '${f.slice(2)}'` : `-s '${f.slice(1)}'`) : f;
          expect(`${shell} ${commandLine(n)}: ${script.includes(asShellWrites) ? f : "missing"}`).toBe(`${shell} ${commandLine(n)}: ${f}`);
        }
      }
    }
  });

  test("the bash script parses (bash -n) and completes commands, subcommands and flags", () => {
    const dir = mkdtempSync(join(tmpdir(), "lava-completion-"));
    try {
      const file = join(dir, "lava.bash");
      writeFileSync(file, completionScript("bash", tree));
      expect(Bun.spawnSync(["bash", "-n", file]).exitCode).toBe(0);
      const complete = (...words: string[]) => {
        const script = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _lava; printf '%s\\n' "\${COMPREPLY[@]}"`;
        return Bun.spawnSync(["bash", "-c", script]).stdout.toString().trim().split("\n").filter(Boolean);
      };
      expect(complete("lava", "c")).toEqual(["ctl", "completion"]);
      expect(complete("lava", "ctl", "lo")).toEqual(["load", "logs"]);
      expect(complete("lava", "ctl", "load", "--so")).toEqual(["--sort"]);
      expect(complete("lava", "ctl", "token", "")).toEqual(["create", "list", "revoke"]);
      expect(complete("lava", "--master", "m1", "ctl", "hosts", "--j")).toEqual(["--json"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const shell of ["zsh", "fish"] as const) {
    test(`the ${shell} script parses (${shell} -n) where ${shell} is installed`, () => {
      const exe = Bun.which(shell);
      if (!exe) {
        console.warn(`\n*** SKIPPED: ${shell} -n on the ${shell} completion: ${shell} is not installed (apt-get install ${shell}) ***\n`);
        return;
      }
      const dir = mkdtempSync(join(tmpdir(), "lava-completion-"));
      try {
        const file = join(dir, `lava.${shell}`);
        writeFileSync(file, completionScript(shell, tree));
        const r = Bun.spawnSync([exe, "-n", file], { stderr: "pipe" });
        expect(r.stderr.toString()).toBe("");
        expect(r.exitCode).toBe(0);
        if (shell === "fish") {
          const c = Bun.spawnSync([exe, "-c", `source ${file}; complete -C 'lava ctl lo'; complete -C 'lava ctl load --so'`]).stdout.toString();
          expect(c.split("\n").filter(Boolean).map((l) => l.split("\t")[0])).toEqual(["load", "logs", "--sort"]);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("man", () => {
  test("lava(1) names every command and flag, with the examples", () => {
    const page = manPage(tree, tree, "9.9.9");
    expect(page).toStartWith('.TH LAVA 1 "" "lava 9.9.9" "User Commands"\n.SH NAME\nlava \\- ');
    for (const n of nodes) {
      if (n.path.length) expect(page).toContain(`.SS "${roff(commandLine(n))}`);
      for (const f of typed(n)) expect(`${commandLine(n)}: ${page.includes(`\\fB${roff(f)}\\fR`) ? f : "missing"}`).toBe(`${commandLine(n)}: ${f}`);
      for (const e of n.examples) expect(page).toContain(roff(e));
    }
    for (const s of [".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH FILES"]) expect(page).toContain(s);
  });

  test("roff escapes what would be read as requests or escapes", () => {
    expect(roff(".TH x\n'y\na\\b -c")).toBe("\\&.TH x\n\\&'y\na\\eb \\-c");
  });

  test("the binary: lava man renders without groff warnings; one command's page; --out writes one file per command", async () => {
    const page = await runLava(["man"]);
    expect(page.code).toBe(0);
    const groff = Bun.which("groff");
    if (groff) {
      const r = Bun.spawnSync([groff, "-man", "-Tutf8", "-ww", "-z"], { stdin: new TextEncoder().encode(page.stdout), stderr: "pipe" });
      expect(r.stderr.toString()).toBe("");
    } else console.warn("\n*** SKIPPED: groff -ww on lava(1): groff is not installed (apt-get install groff-base) ***\n");
    const one = await runLava(["man", "ctl", "load"]);
    expect(one.stdout).toStartWith(".TH LAVA\\-CTL\\-LOAD 1 ");
    expect((await runLava(["man", "ctl", "nope"])).code).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), "lava-man-"));
    try {
      expect((await runLava(["man", "--out", dir])).code).toBe(0);
      const files = readdirSync(dir);
      expect(files).toContain("lava.1");
      expect(files).toContain("lava-ctl-load.1");
      expect(files.length).toBe(nodes.length);
      expect(readFileSync(join(dir, "lava-ctl-token-create.1"), "utf8")).toContain("\\fB\\-\\-role\\fR");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
