/**
 * What every `lava ctl` subcommand shares: the flags that say which masters
 * to ask and how, and turning them (with env and the config file) into a
 * MasterClient.
 */
import type { ArgsDef } from "citty";
import { commonArgs, flagsToConfig } from "../cli/args.ts";
import { LavaError } from "../errors.ts";
import { clientTls, loadConfig, type CtlConfig } from "../config/index.ts";
import { defaultScheme, parseMasterList } from "../control/address.ts";
import { configureLogging } from "../log/index.ts";
import { MasterClient } from "./client.ts";

export const ctlArgs = {
  ...commonArgs,
  master: { type: "string", description: "Master host:port (or https://host:port), or a comma-separated list tried in turn (default 127.0.0.1:6880; env LAVA_MASTER)", valueHint: "ADDRS" },
  token: { type: "string", description: "Access token (env LAVA_TOKEN); prefer --token-file, which ps does not show", valueHint: "TOKEN" },
  "token-file": { type: "string", description: "File holding the access token (env LAVA_TOKEN_FILE)", valueHint: "FILE" },
  timeout: { type: "string", description: "Seconds to wait for each master before trying the next (default 10; env LAVA_TIMEOUT)", valueHint: "SECONDS" },
  json: { type: "boolean", description: "One JSON document on stdout, for scripts" },
} as const satisfies ArgsDef;

const CONFIG_FLAGS = ["master", "token", "token-file", "timeout", "log-level", "log-format"] as const;

export interface CtlContext {
  client: MasterClient;
  config: CtlConfig;
  json: boolean;
}

/**
 * Resolves flags > LAVA_* env > config file > defaults, and builds the client.
 * Bad values are usage errors (exit 2). Commands whose own `--timeout` means
 * something else (submit: the job's limit; wait: how long to wait) pass
 * `timeout: undefined`, so requests wait LAVA_TIMEOUT or ctl.timeout.
 */
export function connect(args: { config?: string | undefined; json?: boolean | undefined; master?: string | undefined; timeout?: string | undefined }): CtlContext {
  const { config, file } = loadConfig({ role: "ctl", configFile: args.config, flags: flagsToConfig(args as Record<string, unknown>, CONFIG_FLAGS) });
  configureLogging(config.log);
  let masters;
  try {
    masters = parseMasterList(config.master);
  } catch (error) {
    const from = args.master !== undefined ? "--master" : process.env.LAVA_MASTER ? "LAVA_MASTER" : file ? `ctl.master in ${file}` : "the default";
    throw new LavaError(`${(error as Error).message}, from ${from}`, "usage");
  }
  const tls = clientTls("ctl", config.tls);
  return {
    client: new MasterClient({ masters, token: config.token, timeoutMs: Math.round(config.timeout * 1000), tls, scheme: defaultScheme(masters, config.tls !== undefined) }),
    config,
    json: args.json === true,
  };
}

/** Positional arguments as strings (citty keeps all of them in `_`). */
export const positionals = (args: { _: unknown[] }): string[] => args._.map(String);

/**
 * The one NAME a command acts on (citty has already refused none at all), as
 * a URL path segment. More than one, an empty one, or "." / ".." (which a URL
 * cannot carry as a segment) is a usage error (exit 2).
 */
export function oneName(args: { _: unknown[] }, what: string, command: string): string {
  const names = positionals(args);
  if (names.length !== 1) throw new LavaError(`${command} takes one ${what}, got ${names.length}${names.length ? `: ${names.join(" ")}` : ""}`, "usage");
  const name = names[0]!;
  if (name.trim() === "" || name === "." || name === "..") throw new LavaError(`${command}: "${name}" is not a ${what}`, "usage");
  return name;
}

/** A name as one URL path segment. */
export const segment = (name: string): string => encodeURIComponent(name);

/** An answer that must be a list; anything else means the address is not a (compatible) lava master. */
export function expectList(answer: unknown, what: string): Record<string, unknown>[] {
  if (!Array.isArray(answer) || !answer.every((x) => typeof x === "object" && x !== null && !Array.isArray(x))) {
    throw new LavaError(`the master's answer to ${what} is not a list of objects; is it a lava master of a matching version?`, "failed");
  }
  return answer as Record<string, unknown>[];
}

/** An answer that must be one object. */
export function expectObject(answer: unknown, what: string): Record<string, unknown> {
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) {
    throw new LavaError(`the master's answer to ${what} is not an object; is it a lava master of a matching version?`, "failed");
  }
  return answer as Record<string, unknown>;
}

/**
 * Every value of a string flag that may repeat (`--env A=1 --env B=2`), in
 * order, from the raw arguments before `--`. citty keeps only the last one.
 * Other string flags of `def` are stepped over with their values, as citty
 * parses them (a string flag takes the next token whatever it looks like).
 * A repeated flag without a value is a usage error (exit 2).
 */
export function repeatedFlag(rawArgs: readonly string[], name: string, def: ArgsDef): string[] {
  const takesValue = new Set<string>();
  for (const [flag, arg] of Object.entries(def)) {
    if (arg.type !== "string") continue;
    takesValue.add(flag);
    const alias = "alias" in arg ? arg.alias : undefined;
    for (const a of Array.isArray(alias) ? alias : alias ? [alias] : []) takesValue.add(a);
  }
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const token = rawArgs[i]!;
    if (token === "--") break;
    if (!token.startsWith("-") || token === "-" || /^-\d/.test(token)) continue;
    const body = token.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const flag = eq >= 0 ? body.slice(0, eq) : body;
    if (flag === name) {
      if (eq >= 0) out.push(body.slice(eq + 1));
      else if (i + 1 < rawArgs.length && rawArgs[i + 1] !== "--") out.push(rawArgs[++i]!);
      else throw new LavaError(`--${name} needs a value`, "usage");
    } else if (eq < 0 && takesValue.has(flag)) {
      i++;
    }
  }
  return out;
}

/** Everything after the first `--`, untouched: a command line to run, never parsed as flags. */
export function afterDashes(rawArgs: readonly string[]): string[] | null {
  const at = rawArgs.indexOf("--");
  return at < 0 ? null : rawArgs.slice(at + 1);
}

/**
 * A command line given after `--` (null if there is no `--`), and the words
 * before it that are neither flags nor values (citty keeps those first in
 * `_`, then the words after `--`): a command that takes none calls them a
 * mistake.
 */
export function commandLine(parsed: { _: unknown[] }, rawArgs: readonly string[]): { argv: string[] | null; stray: string[] } {
  const argv = afterDashes(rawArgs);
  return { argv, stray: parsed._.slice(0, parsed._.length - (argv?.length ?? 0)).map(String) };
}
