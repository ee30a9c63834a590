/**
 * Argument groups shared by several commands, and the bridge from citty's
 * parsed flags to config key paths. Flags carry no defaults: defaults live in
 * the config schema, so "not given" stays distinguishable from "given".
 */
import type { ArgsDef } from "citty";

export const commonArgs = {
  config: { type: "string", description: "YAML config file (default /etc/lava/lava.yaml if present; env LAVA_CONFIG)", valueHint: "FILE" },
  "log-level": { type: "string", description: "silent, error, warn, info, debug or trace (env LAVA_LOG_LEVEL)", valueHint: "LEVEL" },
  "log-format": { type: "string", description: "pretty or json (env LAVA_LOG_FORMAT)", valueHint: "FORMAT" },
} as const satisfies ArgsDef;

export const kebabToCamel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Picks the flags that were actually given and maps them to config paths:
 * `--data-dir` → "dataDir", `--log-level` → "log.level".
 */
export function flagsToConfig(args: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const value = args[name];
    if (value === undefined) continue;
    const path = name.startsWith("log-") ? `log.${name.slice(4)}` : kebabToCamel(name);
    out[path] = value;
  }
  return out;
}

/** Flags a command accepts, in every spelling citty accepts them. */
export function acceptedFlags(def: ArgsDef): Set<string> {
  const out = new Set<string>(["help", "h"]);
  for (const [name, arg] of Object.entries(def)) {
    if (arg.type === "positional") continue;
    out.add(name);
    out.add(kebabToCamel(name));
    out.add(name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase());
    if (arg.type === "boolean") out.add(`no-${name}`);
    const alias = "alias" in arg ? arg.alias : undefined;
    for (const a of Array.isArray(alias) ? alias : alias ? [alias] : []) out.add(a);
  }
  return out;
}

/** The first flag before `--` that the command does not define, if any. */
export function unknownFlag(rawArgs: readonly string[], def: ArgsDef): string | null {
  const accepted = acceptedFlags(def);
  for (const token of rawArgs) {
    if (token === "--") break;
    if (!token.startsWith("-") || token === "-" || /^-\d/.test(token)) continue;
    const name = token.replace(/^--?/, "").split("=")[0]!;
    if (!accepted.has(name)) return token.split("=")[0]!;
  }
  return null;
}
