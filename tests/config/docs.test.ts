/**
 * docs/configuration.md stays true to the schema: every key a role accepts
 * is documented in that role's section, and nothing documented there is a
 * key the schema refuses.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sectionLeaves } from "../../src/config/load.ts";

const doc = readFileSync(join(import.meta.dir, "..", "..", "docs", "configuration.md"), "utf8");

/** The first column's `keys` of each table row in the "## role" section. */
function documented(role: string): Set<string> {
  const start = doc.indexOf(`\n## ${role}\n`);
  if (start < 0) return new Set();
  const rest = doc.slice(start + 1);
  const end = rest.indexOf("\n## ", 1);
  const section = end < 0 ? rest : rest.slice(0, end);
  const keys = new Set<string>();
  for (const line of section.split("\n")) {
    if (!line.startsWith("| `")) continue;
    const first = line.split("|")[1] ?? "";
    for (const m of first.matchAll(/`([^`]+)`/g)) keys.add(m[1]!);
  }
  return keys;
}

describe("docs/configuration.md", () => {
  for (const role of ["master", "agent", "ctl"] as const) {
    test(`every ${role} key is documented, and every documented one exists`, () => {
      const keys = sectionLeaves(role).map((l) => l.path.join("."));
      const docs = documented(role);
      expect(keys.filter((k) => !docs.has(k))).toEqual([]);
      expect([...docs].filter((k) => !keys.includes(k))).toEqual([]);
    });
  }
});
