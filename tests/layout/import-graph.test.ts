/**
 * The layers of src/ and no import cycles (issue 12's Bar). The layer order,
 * lowest first (README.md "Code layout" says the same):
 *
 *   0 base      version.ts, errors.ts, rng/
 *   1 cores     wire/, raft/, jobs/, control/, policy/, history/, loadtable/   pure: no I/O of their own
 *   2 services  config/, log/, auth/, store/
 *   3 cli kit   cli/ (args, meta, errors, help, jit): what every command definition uses
 *   4 programs  master/, agent/, ctl/, install/   none imports another
 *   5 entry     main.ts, cli/root.ts, cli/*-command.ts
 *
 * A file may import its own layer or a lower one; a program nothing of
 * another program. Type-only and dynamic imports count like the others.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findCycles, importGraph, importSpecifiers, topOf, type ImportGraph } from "./import-graph.ts";

const SRC = join(import.meta.dir, "../../src");

const LAYERS: { name: string; members: string[] }[] = [
  { name: "base", members: ["version.ts", "errors.ts", "rng"] },
  { name: "cores", members: ["wire", "raft", "jobs", "control", "policy", "history", "loadtable"] },
  { name: "services", members: ["config", "log", "auth", "store"] },
  { name: "cli kit", members: ["cli"] },
  { name: "programs", members: ["master", "agent", "ctl", "install"] },
  { name: "entry", members: ["main.ts"] },
];
const PROGRAMS = new Set(LAYERS[4]!.members);
const isEntry = (file: string) => file === "main.ts" || file === "cli/root.ts" || /^cli\/[^/]+-command\.ts$/.test(file);

/** A file's layer (its index in LAYERS), or undefined for a top folder no layer names. */
function layerOf(file: string): number | undefined {
  if (isEntry(file)) return 5;
  const top = topOf(file);
  const i = LAYERS.findIndex((l) => l.members.includes(top));
  return i < 0 ? undefined : i;
}

/** Every import that goes up a layer or across programs, as "from → to (why)". */
function violations(g: ImportGraph): string[] {
  const out: string[] = [];
  for (const [from, tos] of g.edges) {
    const lf = layerOf(from)!;
    for (const to of tos) {
      const lt = layerOf(to)!;
      if (lt > lf) out.push(`${from} → ${to} (${LAYERS[lf]!.name} imports ${LAYERS[lt]!.name}${isEntry(to) ? ` (${to} is an entry point)` : ""})`);
      else if (PROGRAMS.has(topOf(from)) && PROGRAMS.has(topOf(to)) && topOf(from) !== topOf(to)) out.push(`${from} → ${to} (a program imports another program)`);
    }
  }
  return out;
}

describe("src/ import graph", () => {
  const g = importGraph(SRC);

  test("every file of src/ is in a layer", () => {
    expect(g.files.filter((f) => layerOf(f) === undefined)).toEqual([]);
  });

  test("no import cycle (each printed as its chain of files)", () => {
    const chains = findCycles(g).map((c) => c.join(" → "));
    if (chains.length) console.error(`import cycles in src/:\n  ${chains.join("\n  ")}`);
    expect(chains).toEqual([]);
  });

  test("no upward import: lower layers never import upper ones, programs never each other", () => {
    const bad = violations(g);
    if (bad.length) console.error(`imports against the layers of src/ (tests/layout/import-graph.test.ts):\n  ${bad.join("\n  ")}`);
    expect(bad).toEqual([]);
  });

  test("the issue's own rules, spelled out", () => {
    const from = (tops: string[]) => [...g.edges].filter(([f]) => tops.includes(topOf(f)));
    const hits = (tops: string[], banned: string[]) => from(tops).flatMap(([f, tos]) => tos.filter((t) => banned.includes(topOf(t))).map((t) => `${f} → ${t}`));
    expect(hits(["raft", "jobs", "wire", "control", "policy", "rng"], ["master", "agent", "ctl", "store"])).toEqual([]);
    expect(hits(["store", "auth", "config"], ["master", "agent", "ctl", "cli"])).toEqual([]);
  });

  test("the parser finds every import Bun's own scanner finds (value imports; Bun drops type-only ones)", () => {
    const t = new Bun.Transpiler({ loader: "ts" });
    const missed: string[] = [];
    for (const f of g.files) {
      const src = readFileSync(join(SRC, f), "utf8").replace(/^#!.*/, "");
      const ours = new Set(importSpecifiers(src));
      for (const imp of t.scanImports(src)) if (!ours.has(imp.path)) missed.push(`${f}: ${imp.path}`);
    }
    expect(missed).toEqual([]);
  });
});

describe("the checker can fail", () => {
  const graph = (edges: Record<string, string[]>): ImportGraph => ({ files: Object.keys(edges).sort(), edges: new Map(Object.entries(edges)) });

  test("a cycle is reported with its chain", () => {
    const g = graph({ "a/x.ts": ["a/y.ts"], "a/y.ts": ["a/z.ts"], "a/z.ts": ["a/x.ts"], "a/w.ts": ["a/x.ts"] });
    expect(findCycles(g)).toEqual([["a/x.ts", "a/y.ts", "a/z.ts", "a/x.ts"]]);
    expect(findCycles(graph({ "a/s.ts": ["a/s.ts"] }))).toEqual([["a/s.ts", "a/s.ts"]]);
    expect(findCycles(graph({ "a/x.ts": ["a/y.ts"], "a/y.ts": [] }))).toEqual([]);
  });

  test("an upward import and an import across programs are reported", () => {
    const g = graph({ "jobs/types.ts": ["master/hosts/status.ts"], "master/hosts/status.ts": [], "agent/a.ts": ["ctl/b.ts"], "ctl/b.ts": ["cli/errors.ts"], "cli/errors.ts": [], "store/db.ts": ["cli/root.ts"], "cli/root.ts": [] });
    expect(violations(g)).toEqual([
      "jobs/types.ts → master/hosts/status.ts (cores imports programs)",
      "agent/a.ts → ctl/b.ts (a program imports another program)",
      "store/db.ts → cli/root.ts (services imports entry (cli/root.ts is an entry point))",
    ]);
  });

  test("specifiers: static, type-only, re-exports, side effects and string-literal dynamic imports; not ones in comments or strings", () => {
    const src = [
      `import { a } from "./a.ts";`,
      `import type {\n  B,\n  C,\n} from "../b.ts";`,
      `export { d } from "./d.ts";`,
      `export * from "./e.ts";`,
      `import "./f.ts";`,
      `const g = () => import("./g.ts");`,
      `// import { no } from "./comment.ts";`,
      `/* import("./block.ts") */`,
      `const s = "import x from './string.ts'";`,
      "const r = /\"/; const t = `${import.meta.url}`;",
      `import { h } from './h.ts';`,
    ].join("\n");
    expect(importSpecifiers(src)).toEqual(["./a.ts", "../b.ts", "./d.ts", "./e.ts", "./f.ts", "./g.ts", "./h.ts"]);
  });
});
