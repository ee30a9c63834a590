import { defineCommand } from "citty";
import { EXIT, LavaError } from "../cli/errors.ts";
import { connect, ctlArgs, expectList, positionals } from "./args.ts";
import { print, printJson, printRaw } from "./output.ts";
import { loadTable } from "./views.ts";
import { localArgs, localDataDir, readLocalLoad } from "./load-local.ts";

export default defineCommand({
  meta: {
    name: "load",
    description: "Load of each host, like lsload: R1M R5M R15M, UT (cpu busy), free MEM and SWP, NCPU, running JOBS, AGE of the last report",
  },
  args: {
    ...ctlArgs,
    long: { type: "boolean", alias: "l", description: "Also cpu user/sys, pending jobs, processes and report loss (LOSS%)" },
    ...localArgs,
    host: { type: "positional", required: false, description: "Only these hosts (give several: HOST HOST…); an unknown one exits 1" },
  },
  async run({ args }) {
    const ctx = connect(args);
    const names = positionals(args);
    if (ctx.json && names.length === 0 && !args.local) {
      // The whole table as the master sent it (design §8 fields), unparsed and undecoded: see MasterClient.getBytes.
      const bytes = await ctx.client.getBytes("/api/v1/load");
      let i = 0;
      while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
      if (bytes[i] !== 0x5b /* [ */) expectList(null, "GET /api/v1/load");
      await printRaw(bytes);
      if (bytes[bytes.length - 1] !== 0x0a) await printRaw("\n");
      return;
    }
    const rows = args.local ? readLocalLoad(localDataDir(args)) : expectList(await ctx.client.get("/api/v1/load"), "GET /api/v1/load");
    const selected = selectHosts(rows, names);
    if (ctx.json) await printJson(selected);
    else await print(loadTable(selected, args.long === true));
  },
});

/** The rows of the named hosts, in the master's order; all rows when none are named. Unknown names: exit 1. */
export function selectHosts(rows: Record<string, unknown>[], names: readonly string[]): Record<string, unknown>[] {
  if (names.length === 0) return rows;
  const known = new Set(rows.map((r) => r.host));
  const unknown = [...new Set(names.filter((n) => !known.has(n)))];
  if (unknown.length > 0) {
    throw new LavaError(`unknown host${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (lava ctl hosts lists the known hosts)`, EXIT.failed);
  }
  const wanted = new Set(names);
  return rows.filter((r) => wanted.has(r.host as string));
}
