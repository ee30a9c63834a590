/**
 * Builds one role's configuration from defaults < YAML file < LAVA_* env < flags,
 * validated by the schema. Every failure is a ConfigError (exit code 2) whose
 * message names where the bad value came from (file, env variable or flag),
 * the key, and what is allowed.
 */
import { existsSync, readFileSync } from "node:fs";
import * as v from "valibot";
import { parseDocument } from "yaml";
import { LavaError } from "../errors.ts";
import { FileSchema, SECTIONS, type Role, type SectionConfig } from "./schema.ts";

export const DEFAULT_CONFIG_FILE = "/etc/lava/lava.yaml";

export class ConfigError extends LavaError {
  constructor(message: string) {
    super(message, "usage");
    this.name = "ConfigError";
  }
}

type Leaf = "number" | "boolean" | "string" | "array" | "picklist";
interface LeafInfo {
  path: string[];
  kind: Leaf;
}

type AnySchema = v.GenericSchema & { type: string; wrapped?: AnySchema; entries?: Record<string, AnySchema> };

function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  // optional()/nullable() wrap; pipe() keeps the inner schema's type, so nothing more to peel.
  while (cur.wrapped) cur = cur.wrapped;
  return cur;
}

/** Every settable leaf of a section, found by walking the schema itself. */
export function sectionLeaves(role: Role): LeafInfo[] {
  const out: LeafInfo[] = [];
  const walk = (schema: AnySchema, path: string[]) => {
    const s = unwrap(schema);
    if (s.type === "strict_object" && s.entries) {
      for (const [k, child] of Object.entries(s.entries)) walk(child, [...path, k]);
      return;
    }
    const kind: Leaf = s.type === "number" || s.type === "boolean" || s.type === "array" || s.type === "picklist" ? s.type : "string";
    out.push({ path, kind });
  };
  walk(SECTIONS[role] as unknown as AnySchema, []);
  return out;
}

export const envName = (path: string[]) => "LAVA_" + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("_");
export const flagName = (path: string[]) => "--" + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()).join("-");

/** Strings from env and flags become the schema's type; what cannot be converted stays a string so the schema names the problem. */
function coerce(raw: unknown, kind: Leaf): unknown {
  if (typeof raw !== "string") return raw;
  const s = raw.trim();
  switch (kind) {
    case "number": {
      const n = Number(s);
      return s !== "" && Number.isFinite(n) ? n : raw;
    }
    case "boolean":
      if (/^(1|true|yes|on)$/i.test(s)) return true;
      if (/^(0|false|no|off)$/i.test(s)) return false;
      return raw;
    case "array":
      return s === "" ? [] : s.split(",").map((x) => x.trim());
    default:
      return raw;
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown) {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

function describeIssue(issue: v.BaseIssue<unknown>, schemaFor: (path: string[]) => AnySchema | undefined): { path: string[]; text: string } {
  const path = (issue.path ?? []).map((p) => String(p.key));
  if (issue.type === "strict_object" && issue.expected === "never") {
    const parent = schemaFor(path.slice(0, -1));
    const allowed = parent?.entries ? Object.keys(parent.entries).join(", ") : "";
    return { path, text: `unknown key${allowed ? ` (allowed here: ${allowed})` : ""}` };
  }
  const got = issue.received;
  if (issue.type === "picklist" && issue.expected) return { path, text: `must be one of ${issue.expected.replace(/"/g, "")}, got ${got}` };
  const message = issue.message.startsWith("Invalid ") ? `expected ${issue.expected}, got ${got}` : `${issue.message}; got ${got}`;
  return { path, text: message };
}

function schemaAt(root: AnySchema, path: string[]): AnySchema | undefined {
  let cur: AnySchema | undefined = unwrap(root);
  for (const key of path) {
    const child: AnySchema | undefined = cur?.entries?.[key];
    if (!child) return undefined;
    cur = unwrap(child);
  }
  return cur;
}

/**
 * Where the value at `path` came from: the issue may point inside a value
 * (`raftPeers.0`, an element of a list given as one env variable), so the
 * nearest enclosing key that was set by env or a flag names the source.
 */
function sourceOf(source: ReadonlyMap<string, string>, path: readonly string[]): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const from = source.get(path.slice(0, n).join("."));
    if (from !== undefined) return from;
  }
  return undefined;
}

export interface LoadOptions {
  role: Role;
  /** --config value, if given. */
  configFile?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Flag values by config key path ("dataDir", "log.level"); undefined = not given. */
  flags?: Record<string, unknown>;
}

export interface Loaded<R extends Role> {
  config: SectionConfig<R>;
  /** The file that was read, if any. */
  file: string | null;
}

export function loadConfig<R extends Role>(opts: LoadOptions & { role: R }): Loaded<R> {
  const env = opts.env ?? process.env;
  const role = opts.role;
  const explicit = opts.configFile ?? env.LAVA_CONFIG;
  const file = explicit ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);

  let fileData: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}. Fix the path given to --config (or LAVA_CONFIG).`);
    }
    const doc = parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) {
      throw new ConfigError(`${file}: not valid YAML: ${doc.errors[0]!.message}`);
    }
    const data = doc.toJS() ?? {};
    if (typeof data !== "object" || Array.isArray(data)) {
      throw new ConfigError(`${file}: the top level must be a mapping with sections master:, agent:, ctl:`);
    }
    const parsed = v.safeParse(FileSchema, data);
    if (!parsed.success) {
      const lines = parsed.issues.map((i) => {
        const d = describeIssue(i, (p) => schemaAt(FileSchema as unknown as AnySchema, p));
        return `${file}: ${d.path.join(".") || "(top level)"}: ${d.text}`;
      });
      throw new ConfigError(lines.join("\n"));
    }
    fileData = ((data as Record<string, unknown>)[role] as Record<string, unknown> | undefined) ?? {};
  }

  // Overlay env, then flags, remembering where each value came from so errors can say.
  const merged: Record<string, unknown> = structuredClone(fileData);
  const source = new Map<string, string>();
  const leaves = sectionLeaves(role);
  for (const leaf of leaves) {
    const name = envName(leaf.path);
    const raw = env[name];
    if (raw !== undefined && raw !== "") {
      setPath(merged, leaf.path, coerce(raw, leaf.kind));
      source.set(leaf.path.join("."), `env ${name}`);
    }
  }
  for (const leaf of leaves) {
    const key = leaf.path.join(".");
    const raw = opts.flags?.[key];
    if (raw !== undefined) {
      setPath(merged, leaf.path, coerce(raw, leaf.kind));
      source.set(key, `flag ${flagName(leaf.path)}`);
    }
  }

  const schema = SECTIONS[role];
  const result = v.safeParse(schema, merged);
  if (!result.success) {
    const lines = result.issues.map((i) => {
      const d = describeIssue(i, (p) => schemaAt(schema as unknown as AnySchema, p));
      const key = d.path.join(".");
      const from = sourceOf(source, d.path) ?? (file ? file : "defaults");
      return `${from}: ${role}.${key}: ${d.text}`;
    });
    throw new ConfigError(lines.join("\n"));
  }
  const config = result.output as SectionConfig<R>;
  if ("tokenFile" in config && config.tokenFile) readTokenFile(config as { token?: string; tokenFile: string }, source, file);
  return { config, file };
}

/**
 * `tokenFile` (--token-file, LAVA_TOKEN_FILE): the token is read from the
 * file, so it shows in neither `ps` nor the environment. Between `token`
 * and `tokenFile` the one given at the higher level wins (flag > env >
 * file); at the same level, the file.
 */
function readTokenFile(config: { token?: string; tokenFile: string }, source: Map<string, string>, file: string | null): void {
  const rank = (key: string) => {
    const s = source.get(key);
    return s === undefined ? (file ? 1 : 0) : s.startsWith("flag") ? 3 : 2;
  };
  if (config.token !== undefined && rank("token") > rank("tokenFile")) return;
  const from = source.get("tokenFile") ?? (file ? `tokenFile in ${file}` : "tokenFile");
  let text: string;
  try {
    text = readFileSync(config.tokenFile, "utf8");
  } catch (e) {
    throw new ConfigError(`${from}: cannot read the token file ${config.tokenFile}: ${(e as Error).message}; fix the path or write the token there (mode 0600)`);
  }
  const token = text.trim();
  if (!token || /\s/.test(token)) throw new ConfigError(`${from}: the token file ${config.tokenFile} must hold one token on one line`);
  config.token = token;
}
