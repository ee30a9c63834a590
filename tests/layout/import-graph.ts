/**
 * The import graph of src/ as the source says it: every `import … from`,
 * `import type … from`, `export … from`, side-effect `import "x"` and
 * dynamic `import("x")` with a string literal. Type-only imports count: a
 * lower layer that names an upper layer's type depends on it as much as
 * one that calls it. Comments and the insides of string, template and
 * regex literals are blanked first (prose and strings may quote imports);
 * a specifier is then read back from the original text at its place.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** The source with comments and the insides of literals replaced by spaces (quotes, lines and offsets kept). */
export function blankComments(src: string): string {
  const out = src.split("");
  let i = 0;
  /** The last significant character outside comments: decides whether a `/` starts a regex literal. */
  let prev = "";
  let prevWord = "";
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  const regexAfter = (p: string, w: string) => p === "" || "(,=:[!&|?{};+-*%<>~^".includes(p) || ["return", "typeof", "case", "do", "else", "in", "of", "void", "yield", "await"].includes(w);
  while (i < src.length) {
    const c = src[i]!;
    const n = src[i + 1];
    if (c === "/" && n === "/") {
      const end = src.indexOf("\n", i);
      const to = end === -1 ? src.length : end;
      blank(i, to);
      i = to;
      continue;
    }
    if (c === "/" && n === "*") {
      const end = src.indexOf("*/", i + 2);
      const to = end === -1 ? src.length : end + 2;
      blank(i, to);
      i = to;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      const end = skipString(src, i);
      blank(i + 1, src[end - 1] === c && end - 1 > i ? end - 1 : end);
      i = end;
      prev = c;
      prevWord = "";
      continue;
    }
    if (c === "/" && regexAfter(prev, prevWord)) {
      const end = skipRegex(src, i);
      blank(i + 1, end);
      i = end;
      prev = "/";
      prevWord = "";
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[A-Za-z0-9_$]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_$]/.test(src[j]!)) j++;
      prevWord = src.slice(i, j);
      prev = src[j - 1]!;
      i = j;
      continue;
    }
    prev = c;
    prevWord = "";
    i++;
  }
  return out.join("");
}

/** The index just past the string literal that starts at `i` (template literals: nested `${}` with strings inside are followed). */
function skipString(src: string, i: number): number {
  const q = src[i]!;
  let j = i + 1;
  while (j < src.length) {
    const c = src[j]!;
    if (c === "\\") {
      j += 2;
      continue;
    }
    if (c === q) return j + 1;
    if (q === "`" && c === "$" && src[j + 1] === "{") {
      j = skipBraces(src, j + 1);
      continue;
    }
    if (q !== "`" && c === "\n") return j; // an unterminated string: stop at the line's end
    j++;
  }
  return j;
}

function skipBraces(src: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < src.length) {
    const c = src[j]!;
    if (c === '"' || c === "'" || c === "`") {
      j = skipString(src, j);
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return j + 1;
    j++;
  }
  return j;
}

function skipRegex(src: string, i: number): number {
  let j = i + 1;
  let inClass = false;
  while (j < src.length) {
    const c = src[j]!;
    if (c === "\\") {
      j += 2;
      continue;
    }
    if (c === "\n") return j;
    if (inClass) {
      if (c === "]") inClass = false;
    } else if (c === "[") inClass = true;
    else if (c === "/") {
      j++;
      while (j < src.length && /[a-z]/.test(src[j]!)) j++;
      return j;
    }
    j++;
  }
  return j;
}

const STATIC = /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(["'])([^"'\n]+)\1/dg;
const BARE = /\bimport\s*(["'])([^"'\n]+)\1/dg;
const DYNAMIC = /\bimport\s*\(\s*(["'])([^"'\n]+)\1\s*\)/dg;

/** Every module specifier the source imports or re-exports from, in order of appearance, without repeats. */
export function importSpecifiers(src: string): string[] {
  const code = blankComments(src);
  const found: { at: number; spec: string }[] = [];
  for (const re of [STATIC, BARE, DYNAMIC]) {
    for (const m of code.matchAll(re)) {
      const [from, to] = m.indices![2]!;
      found.push({ at: m.index, spec: src.slice(from, to) });
    }
  }
  return [...new Set(found.sort((a, b) => a.at - b.at).map((f) => f.spec))];
}

export interface ImportGraph {
  /** Files relative to the root, e.g. "master/server.ts". */
  files: string[];
  /** file → the files of the root it imports (relative specifiers that resolve to a .ts file). */
  edges: Map<string, string[]>;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

export function importGraph(root: string): ImportGraph {
  const abs = resolve(root);
  const files = listTs(abs).map((f) => relative(abs, f)).sort();
  const known = new Set(files);
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const targets: string[] = [];
    for (const spec of importSpecifiers(readFileSync(join(abs, f), "utf8"))) {
      if (!spec.startsWith(".")) continue; // packages, node:, bun:
      const target = relative(abs, resolve(abs, dirname(f), spec));
      if (known.has(target)) targets.push(target);
      else if (target.endsWith(".ts")) throw new Error(`${f}: imports ${spec}, which is not a file of ${root}`);
    }
    edges.set(f, targets);
  }
  return { files, edges };
}

/**
 * The cycles of the graph, each as a closed chain [a, b, …, a]: one per
 * strongly connected component of more than one file (or a file that
 * imports itself), the shortest cycle through its first file.
 */
export function findCycles(g: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const comps: string[][] = [];
  let n = 0;
  // Iterative Tarjan: src/ is small, but recursion depth should not depend on it.
  for (const start of g.files) {
    if (index.has(start)) continue;
    const work: { v: string; i: number }[] = [{ v: start, i: 0 }];
    index.set(start, n);
    low.set(start, n++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1]!;
      const next = g.edges.get(top.v)!;
      if (top.i < next.length) {
        const w = next[top.i++]!;
        if (!index.has(w)) {
          index.set(w, n);
          low.set(w, n++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]!.v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === index.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== top.v);
        if (comp.length > 1 || g.edges.get(top.v)!.includes(top.v)) comps.push(comp.sort());
      }
    }
  }
  return comps.map((comp) => shortestCycle(g, comp));
}

/** The shortest path from comp[0] back to itself inside the component (breadth first). */
function shortestCycle(g: ImportGraph, comp: string[]): string[] {
  const inside = new Set(comp);
  const start = comp[0]!;
  const from = new Map<string, string>();
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q]!;
    for (const w of g.edges.get(v)!) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const chain = [start];
        for (let x = v; x !== start; x = from.get(x)!) chain.splice(1, 0, x);
        return [...chain, start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** The top folder of a file ("master/http/api.ts" → "master"; "main.ts" → "main.ts"). */
export const topOf = (file: string) => file.split("/")[0]!;
