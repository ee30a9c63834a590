/**
 * The pure parts of `update_agent` (self-update of a copy-one-binary
 * deployment): whether this process can update itself, the URL to fetch,
 * where the download goes, what the new binary must print, and how the
 * process starts again.
 */
import * as v from "valibot";

/**
 * True when running as a `bun build --compile` binary: its entry module then
 * lives in Bun's embedded file system. Run from source (`bun src/main.ts`),
 * process.execPath is bun itself, which the agent must never replace.
 */
export function isCompiledBinary(main: string): boolean {
  return main.startsWith("/$bunfs/") || main.startsWith("B:/~BUN/");
}

/**
 * `http(s)://<master><path>`. The path comes from the master but is checked
 * anyway: one absolute path on that host, nothing that could turn the URL
 * into another host's (`//evil`, `@`, a scheme) or carry odd characters.
 */
export function updateUrl(masterHttpBase: string, path: string): { url: string } | { error: string } {
  if (!/^\/(?!\/)[A-Za-z0-9._~!$&'()*+,;=:%/?-]*$/.test(path) || path.includes("@") || path.includes("\\")) {
    return { error: `the master sent an unusable download path ${JSON.stringify(path.slice(0, 200))}: it must be an absolute path on the master, like /api/v1/agent/binary` };
  }
  return { url: `${masterHttpBase}${path}` };
}

/** The download's name: beside the executable (so the rename is atomic, one file system), hidden, unique. */
export function tempPathFor(execPath: string, unique: string): string {
  const slash = execPath.lastIndexOf("/");
  const dir = slash >= 0 ? execPath.slice(0, slash + 1) : "./";
  const base = execPath.slice(slash + 1);
  return `${dir}.${base}.update-${unique}`;
}

const VersionOutputSchema = v.object({ version: v.pipe(v.string(), v.maxLength(100)) });

/** null if `stdout` of `<new binary> version --json` names `want`; else why not. */
export function versionProblem(stdout: string, want: string): string | null {
  let data: unknown;
  try {
    data = JSON.parse(stdout.trim());
  } catch {
    return `the new binary's "version --json" did not print JSON (got ${JSON.stringify(stdout.trim().slice(0, 100))})`;
  }
  const r = v.safeParse(VersionOutputSchema, data);
  if (!r.success) return `the new binary's "version --json" has no version: ${v.summarize(r.issues)}`;
  if (r.output.version !== want) return `the new binary is version ${JSON.stringify(r.output.version)}, not the ${JSON.stringify(want)} the master asked for`;
  return null;
}

/** How the process starts again: the same arguments and environment, the (new) executable. */
export interface RestartPlan {
  execPath: string;
  /** Full argv, argv[0] included. */
  argv: string[];
  env: Record<string, string>;
  /** The version it restarts into, for the log. */
  version: string;
}

/**
 * A compiled binary's process.argv is ["bun", "/$bunfs/root/<name>", ...the
 * user's arguments]: the re-exec gets [execPath, ...the user's arguments].
 */
export function restartPlan(execPath: string, processArgv: readonly string[], env: Readonly<Record<string, string | undefined>>, version: string): RestartPlan {
  const clean: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) if (val !== undefined) clean[k] = val;
  return { execPath, argv: [execPath, ...processArgv.slice(2)], env: clean, version };
}
