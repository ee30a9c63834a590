/**
 * Tiny flag parser for the benchmarks: `--name value`, `--name=value` and
 * boolean `--name` / `--no-name`. An unknown flag or a bad value prints the
 * usage and exits 2 (the CLI's usage exit code).
 */

export type FlagSpec =
  | { kind: "number"; default: number; min?: number; integer?: boolean; help: string }
  | { kind: "string"; default: string | null; help: string }
  | { kind: "boolean"; default: boolean; help: string };

export type FlagValues<S extends Record<string, FlagSpec>> = {
  [K in keyof S]: S[K] extends { kind: "number" } ? number : S[K] extends { kind: "boolean" } ? boolean : string | null;
};

export function usageText(command: string, spec: Record<string, FlagSpec>): string {
  const lines = [`usage: ${command} [flags]`];
  for (const [name, s] of Object.entries(spec)) {
    const arg = s.kind === "boolean" ? `--${name} | --no-${name}` : `--${name} ${s.kind === "number" ? "N" : "VALUE"}`;
    lines.push(`  ${arg.padEnd(28)} ${s.help} (default ${s.default === null ? "none" : String(s.default)})`);
  }
  return lines.join("\n");
}

export function parseFlags<S extends Record<string, FlagSpec>>(command: string, argv: readonly string[], spec: S): FlagValues<S> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) out[k] = s.default;
  const fail = (why: string): never => {
    console.error(`${command}: ${why}\n${usageText(command, spec)}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      console.log(usageText(command, spec));
      process.exit(0);
    }
    if (!a.startsWith("--")) fail(`unexpected argument '${a}'`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let s = spec[name];
    if (!s && name.startsWith("no-") && spec[name.slice(3)]?.kind === "boolean" && value === undefined) {
      out[name.slice(3)] = false;
      continue;
    }
    if (!s) fail(`unknown flag --${name}`);
    s = s!;
    if (s.kind === "boolean") {
      if (value === undefined) out[name] = true;
      else if (value === "true" || value === "false") out[name] = value === "true";
      else fail(`--${name} takes true or false`);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) fail(`--${name} needs a value`);
    }
    if (s.kind === "number") {
      const n = Number(value);
      if (!Number.isFinite(n) || (s.min !== undefined && n < s.min) || (s.integer && !Number.isInteger(n))) {
        fail(`--${name} must be ${s.integer ? "an integer" : "a number"}${s.min !== undefined ? ` ≥ ${s.min}` : ""}, got '${value}'`);
      }
      out[name] = n;
    } else {
      out[name] = value;
    }
  }
  return out as FlagValues<S>;
}
