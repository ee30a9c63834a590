#!/usr/bin/env bun
/**
 * The one `lava` executable. Subcommands are imported lazily with string
 * literals so `bun build --compile` bundles them. Only this file exits the
 * process; commands throw LavaError / ExitRequest or return.
 */
import { defineCommand, runCommand, showUsage, type CommandDef, type ArgsDef } from "citty";
import { EXIT, ExitRequest, LavaError } from "./cli/errors.ts";
import { unknownFlag } from "./cli/args.ts";
import { jitPolicyFor } from "./cli/jit.ts";
import { VERSION } from "./version.ts";

export const root = defineCommand({
  meta: { name: "lava", version: VERSION, description: "Cluster load information, jobs and remote commands in one binary" },
  subCommands: {
    master: () => import("./master/command.ts").then((m) => m.default),
    agent: () => import("./agent/command.ts").then((m) => m.default),
    ctl: () => import("./ctl/command.ts").then((m) => m.default),
    version: () => import("./cli/version-command.ts").then((m) => m.default),
  },
});

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** Walks the subcommand chain the way citty will, so help and flag checks see the right command. */
async function resolveChain(cmd: CommandDef, rawArgs: string[]): Promise<{ cmd: CommandDef; parent?: CommandDef; rest: string[] }> {
  const subs = cmd.subCommands ? await resolve(cmd.subCommands) : undefined;
  if (subs) {
    const idx = rawArgs.findIndex((a) => !a.startsWith("-"));
    const name = idx >= 0 ? rawArgs[idx] : undefined;
    if (name && name in subs && (idx < 0 || !rawArgs.slice(0, idx).includes("--"))) {
      const sub = (await resolve(subs[name]!)) as CommandDef;
      const inner = await resolveChain(sub, rawArgs.slice(idx + 1));
      return inner.parent ? inner : { ...inner, parent: cmd };
    }
  }
  return { cmd, rest: rawArgs };
}

class UsageError extends LavaError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

export async function main(rawArgs: string[]): Promise<number> {
  const beforeDashes = rawArgs.indexOf("--") >= 0 ? rawArgs.slice(0, rawArgs.indexOf("--")) : rawArgs;
  jitPolicyFor(rawArgs.find((a) => !a.startsWith("-")));
  try {
    if (rawArgs.length === 1 && rawArgs[0] === "--version") {
      console.log(VERSION);
      return EXIT.ok;
    }
    const chain = await resolveChain(root as CommandDef, rawArgs);
    if (beforeDashes.includes("--help") || beforeDashes.includes("-h") || (!chain.cmd.run && !chain.cmd.default)) {
      await showUsage(chain.cmd, chain.parent);
      return beforeDashes.includes("--help") || beforeDashes.includes("-h") ? EXIT.ok : EXIT.usage;
    }
    const def = chain.cmd.args ? ((await resolve(chain.cmd.args)) as ArgsDef) : {};
    const bad = unknownFlag(chain.rest, def);
    if (bad) {
      await showUsage(chain.cmd, chain.parent);
      throw new UsageError(`unknown option ${bad}`);
    }
    await runCommand(root, { rawArgs });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof ExitRequest) return error.exitCode;
    if (error instanceof LavaError) {
      console.error(`lava: ${error.message}`);
      return error.exitCode;
    }
    if (error instanceof Error && error.name === "CLIError") {
      console.error(`lava: ${error.message}`);
      return EXIT.usage;
    }
    console.error("lava: unexpected error:", error);
    return EXIT.failed;
  }
}

// No top-level await: the binary is compiled to bytecode, which needs a plain entry.
if (import.meta.main) void main(process.argv.slice(2)).then((code) => process.exit(code));
