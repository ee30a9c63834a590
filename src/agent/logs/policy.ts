/**
 * Which logs `stream_logs` may read (agent.logs.allow, agent.logs.units).
 * Pure (Bun.Glob is only a matcher here: no file system access).
 *
 * A path is judged by its real path (symlinks and `..` resolved by the
 * caller), against the entries as written:
 * - an entry ending in '/' is a directory prefix: everything below it;
 * - an entry with a glob character (`*`, `?`, `[`, `{`) is a Bun.Glob
 *   pattern (`*` stays within one directory, `**` crosses them);
 * - any other entry is one exact file.
 * Entries are not resolved themselves: whoever can turn an allowed path
 * into a symlink must not widen the list by it. So entries must be written
 * as real paths (no symlinked directories in them); the refusal says so.
 */
export type AllowKind = "dir" | "glob" | "file";

export function entryKind(entry: string): AllowKind {
  if (entry.endsWith("/")) return "dir";
  if (/[*?[{]/.test(entry)) return "glob";
  return "file";
}

export function pathAllowed(realPath: string, allow: readonly string[]): boolean {
  return allow.some((entry) => {
    switch (entryKind(entry)) {
      case "dir":
        return realPath.startsWith(entry);
      case "glob":
        return new Bun.Glob(entry).match(realPath);
      case "file":
        return realPath === entry;
    }
  });
}

export function unitAllowed(unit: string, units: readonly string[]): boolean {
  return unit !== "" && units.includes(unit);
}
