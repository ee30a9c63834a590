import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { meta } from "../cli/meta.ts";
import { connect, ctlArgs, expectList, positionals, type CtlContext } from "./args.ts";
import { print, printJson, printRaw } from "./output.ts";
import { LOAD_COLUMNS, LOAD_FIELDS_DEFAULT, LOAD_FIELDS_LONG, LOAD_FIELDS_WIDE, loadTable, sortLoadRows } from "./views.ts";
import { watchLoop } from "./watch.ts";

type Row = Record<string, unknown>;
import { localArgs, localDataDir, readLocalLoad } from "./load-local.ts";

export default defineCommand({
  meta: meta({
    name: "load",
    description: "Load of each host, like lsload: R1M R5M R15M, UT (cpu busy), MEMFREE and SWPFREE, NCPU, running JOBS, AGE of the last report",
    examples: ["lava ctl load", "lava ctl load --sort=-load1 -o host,status,load1,ut", "lava ctl load --watch 5 node1 node2"],
  }),
  args: {
    ...ctlArgs,
    long: { type: "boolean", alias: "l", description: "Also cpu user/sys, pending jobs, processes and report loss (LOSS%)" },
    output: { type: "string", alias: "o", description: `Columns: "wide" for all of them, or fields separated by commas (${Object.keys(LOAD_COLUMNS).join(", ")})`, valueHint: "FIELDS" },
    sort: { type: "string", alias: "s", description: "Sort by a field, ascending; -FIELD descending (write --sort=-load1)", valueHint: "FIELD" },
    header: { type: "boolean", default: true, description: "Rows only, without the header row (for scripts that read the table)" },
    watch: { type: "boolean", alias: "w", description: "Redraw every SECONDS (default 2; --watch SECONDS) until Ctrl-C, in place on a terminal", valueHint: "SECONDS" },
    ...localArgs,
    host: { type: "positional", required: false, description: "Only these hosts (give several: HOST HOST…); an unknown one exits 1" },
  },
  async run({ args, rawArgs }) {
    const watch = watchSeconds(rawArgs);
    const names = positionals(args);
    // `--watch 5`: citty took "5" for a host name.
    if (watch?.fromPositional) names.splice(names.indexOf(watch.text), 1);
    const fields = outputFields(args.output, args.long === true);
    const sort = args.sort;
    if (sort !== undefined) checkField(sort.replace(/^-/, ""), "--sort");
    const ctx = connect(args);
    if (ctx.json && names.length === 0 && sort === undefined && watch === null && !args.local) return passThrough(ctx);

    const rows = async () => {
      const selected = selectHosts(await loadRows(ctx, args.local ? localDataDir(args) : null), names);
      return sort === undefined ? selected : sortLoadRows(selected, sort);
    };
    const render = (r: Row[]) => (ctx.json ? JSON.stringify(r) : loadTable(r, { fields, header: args.header !== false }));
    if (watch === null) {
      const r = await rows();
      if (ctx.json) await printJson(r);
      else await print(render(r));
      return;
    }
    await watchLoop({ intervalSec: watch.seconds, title: ["lava ctl load", ...rawArgs].join(" "), draw: async () => render(await rows()) });
  },
});

/**
 * Where the rows come from: the master's live table over HTTP, or with
 * --local the shared-memory table in a master's data dir on this machine
 * (load-local.ts). Everything after this works on rows.
 */
async function loadRows(ctx: CtlContext, localDir: string | null): Promise<Row[]> {
  if (localDir !== null) return readLocalLoad(localDir);
  return expectList(await ctx.client.get("/api/v1/load"), "GET /api/v1/load");
}

/** The whole table as the master sent it (design §8 fields), unparsed and undecoded: see MasterClient.getBytes. */
async function passThrough(ctx: CtlContext): Promise<void> {
  const bytes = await ctx.client.getBytes("/api/v1/load");
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] !== 0x5b /* [ */) expectList(null, "GET /api/v1/load");
  await printRaw(bytes);
  if (bytes[bytes.length - 1] !== 0x0a) await printRaw("\n");
}

function checkField(field: string, flag: string): void {
  if (!(field in LOAD_COLUMNS)) throw new LavaError(`${flag}: unknown field "${field}"; the fields are ${Object.keys(LOAD_COLUMNS).join(", ")}`, "usage");
}

/** The columns from -o (a field list, or "wide") and -l. Unknown fields are usage errors. */
export function outputFields(output: string | undefined, long: boolean): readonly string[] {
  if (output === undefined) return long ? LOAD_FIELDS_LONG : LOAD_FIELDS_DEFAULT;
  if (output.trim() === "wide") return LOAD_FIELDS_WIDE;
  const fields = output.split(",").map((f) => f.trim()).filter((f) => f !== "");
  if (fields.length === 0) throw new LavaError(`-o needs "wide" or fields separated by commas, e.g. -o host,status,load1`, "usage");
  for (const f of fields) checkField(f, "-o");
  return fields;
}

/**
 * `--watch [SECONDS]` (or `-w`): the seconds, from `--watch=S` or the word
 * right after the flag when it is a number (citty has taken that word as the
 * first host name: the caller drops it); null without the flag.
 */
export function watchSeconds(rawArgs: readonly string[]): { seconds: number; text: string; fromPositional: boolean } | null {
  const DEFAULT = 2;
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") break;
    const m = /^(?:--watch|-w)(?:=(.*))?$/.exec(a);
    if (!m) continue;
    const text = m[1] ?? (/^\d+(\.\d+)?$/.test(rawArgs[i + 1] ?? "") ? rawArgs[i + 1]! : null);
    if (text === null) return { seconds: DEFAULT, text: "", fromPositional: false };
    const seconds = Number(text);
    if (!(seconds >= 0.1 && seconds <= 86_400)) throw new LavaError(`--watch takes seconds from 0.1 to 86400, got "${text}"`, "usage");
    return { seconds, text, fromPositional: m[1] === undefined };
  }
  return null;
}

/** The rows of the named hosts, in the master's order; all rows when none are named. Unknown names: exit 1. */
export function selectHosts(rows: Record<string, unknown>[], names: readonly string[]): Record<string, unknown>[] {
  if (names.length === 0) return rows;
  const known = new Set(rows.map((r) => r.host));
  const unknown = [...new Set(names.filter((n) => !known.has(n)))];
  if (unknown.length > 0) {
    throw new LavaError(`unknown host${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (lava ctl hosts lists the known hosts)`, "failed");
  }
  const wanted = new Set(names);
  return rows.filter((r) => wanted.has(r.host as string));
}
