import { defineCommand } from "citty";
import { ExitRequest } from "../cli/errors.ts";
import { LavaError } from "../errors.ts";
import { formatHostPort } from "../control/address.ts";
import { connect, ctlArgs, expectList, expectObject } from "./args.ts";
import { CHECK, CHECK_DEFAULTS, checkVerdict, type CheckInput, type CheckThresholds, type CheckVerdict } from "./check-status.ts";
import { print, printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({
    name: "check",
    description: "Nagios-style check for cron and monitoring: one status line with perfdata; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
    examples: ["lava ctl check", "lava ctl check --warn-unavail 3 --crit-unavail-pct 20 --grace 60", "lava ctl check --json"],
  }),
  args: {
    ...ctlArgs,
    "warn-unavail": { type: "string", description: `WARNING from this many hosts down (unavail or unreach); 0 = never (default ${CHECK_DEFAULTS.warnUnavail})`, valueHint: "N" },
    "crit-unavail-pct": { type: "string", description: `CRITICAL from this percent of hosts down; 0 = never (default ${CHECK_DEFAULTS.critUnavailPct})`, valueHint: "P" },
    grace: { type: "string", description: "Seconds after a master start or leader change during which down hosts are pending, not down (default: 3 report intervals)", valueHint: "SECONDS" },
  },
  async run({ args }) {
    let verdict: CheckVerdict;
    try {
      const t = thresholds(args["warn-unavail"], args["crit-unavail-pct"], args.grace);
      verdict = checkVerdict(await gather(args), t);
    } catch (e) {
      // A plugin answers UNKNOWN for whatever kept it from checking (design §8), never another exit code.
      if (!(e instanceof LavaError)) throw e;
      const summary = e.message.replace(/[|\n]/g, " ");
      verdict = { code: CHECK.unknown, state: "UNKNOWN", summary, perf: null, perfdata: null, line: `LAVA UNKNOWN - ${summary}` };
    }
    if (args.json) await printJson({ state: verdict.state, code: verdict.code, summary: verdict.summary, perf: verdict.perf, perfdata: verdict.perfdata });
    else await print(verdict.line);
    if (verdict.code !== CHECK.ok) throw new ExitRequest(verdict.code);
  },
});

/** The thresholds from the flags; a bad one is reported as UNKNOWN like any other failure to check. */
export function thresholds(warn: string | undefined, critPct: string | undefined, grace?: string | undefined): CheckThresholds {
  const t = { ...CHECK_DEFAULTS };
  if (warn !== undefined) {
    const n = Number(warn.trim());
    if (!/^\d+$/.test(warn.trim())) throw new LavaError(`--warn-unavail must be a whole number ≥ 0, got "${warn}"`);
    t.warnUnavail = n;
  }
  if (critPct !== undefined) {
    const p = Number(critPct.trim());
    if (critPct.trim() === "" || !(p >= 0 && p <= 100)) throw new LavaError(`--crit-unavail-pct must be a percentage from 0 to 100, got "${critPct}"`);
    t.critUnavailPct = p;
  }
  if (grace !== undefined) {
    const g = Number(grace.trim());
    if (grace.trim() === "" || !(g >= 0 && g <= 86_400)) throw new LavaError(`--grace must be seconds from 0 to 86400, got "${grace}"`);
    t.graceSec = g;
  }
  return t;
}

async function gather(args: Parameters<typeof connect>[0]): Promise<CheckInput> {
  const ctx = connect(args);
  const timeoutMs = Math.round(ctx.config.timeout * 1000);
  const configured = [...ctx.client.masters];
  const masters = await Promise.all(
    configured.map(async (m) => {
      const address = formatHostPort(m);
      try {
        const res = await ctx.client.probe(m, "/healthz", timeoutMs);
        const body = (await res.json().catch(() => null)) as { ok?: unknown } | null;
        return { address, up: res.ok && body?.ok === true };
      } catch {
        return { address, up: false };
      }
    }),
  );
  const input: CheckInput = { masters, hosts: null, alerts: null, error: null };
  if (!masters.some((m) => m.up)) return input;
  try {
    const status = expectObject(await ctx.client.get("/api/v1/status"), "GET /api/v1/status");
    const hosts = (typeof status.hosts === "object" && status.hosts !== null ? status.hosts : {}) as Record<string, number>;
    input.hosts = hosts;
    input.master = upFor(status.master);
    input.alerts = expectList(await ctx.client.get("/api/v1/alerts"), "GET /api/v1/alerts").map((a) => ({ host: String(a.host), id: String(a.id), severity: String(a.severity) }));
    // The names of the hosts down, only when there are some: the whole load table is large on a big cluster.
    if ((hosts.unavail ?? 0) + (hosts.unreach ?? 0) > 0) {
      const rows = expectList(await ctx.client.get("/api/v1/load"), "GET /api/v1/load");
      input.downHosts = rows.filter((r) => r.status === "unavail" || r.status === "unreach").map((r) => String(r.host));
    }
  } catch (e) {
    if (!(e instanceof LavaError)) throw e;
    input.error = e.message;
  }
  return input;
}

/** How long the answering master has been up and leading, whichever is shorter, and its report interval (status.master). */
function upFor(master: unknown): CheckInput["master"] {
  const m = (typeof master === "object" && master !== null ? master : {}) as Record<string, unknown>;
  const num = (x: unknown) => (typeof x === "number" && Number.isFinite(x) && x >= 0 ? x : null);
  const up = num(m.uptimeMs);
  const leading = num(m.leaderForMs);
  return { upForMs: up === null ? leading : leading === null ? up : Math.min(up, leading), reportIntervalMs: num(m.reportIntervalMs) };
}
