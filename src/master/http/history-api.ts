/**
 * Load history over HTTP (role `read`; docs/api.md "History"):
 *   GET /api/v1/hosts/:name/history?metric=M&since=D&until=T&step=S
 *   GET /api/v1/history?metric=M&since=D&until=T&step=S[&agg=summary][&top=N][&hosts=A,B]
 * Answered from this master's history file (a follower proxies to the
 * leader, whose file it is). Nothing is written because of a request.
 */
import { TIERS, type SeriesRead } from "../../history/index.ts";
import type { HistoryFile } from "../history/file.ts";
import { hostPoints, hostsParam, jsonValues, parseHistoryQuery, seriesHead, summarize, topParam, type Points, type SeriesReader } from "../history/query.ts";
import type { HostEntry, HostTable } from "../hosts/table.ts";
import type { TokenGate } from "../tokens.ts";
import { jsonFor } from "./compress.ts";
import { HttpError } from "./errors.ts";
import type { Router } from "./router.ts";

export interface HistoryDeps {
  gate: TokenGate;
  hosts: HostTable;
  /** null: this master keeps no history (master.history.enabled is false). */
  history: HistoryFile | null;
  nowMs: () => number;
}

const ncpusOf = (h: HostEntry) => h.report?.ncpus || h.hardware.ncpus || 1;

/** A host this master has no history of reads as gaps over the span. */
function gaps(tier: number, fromMs: number, toMs: number): SeriesRead {
  const step = TIERS[tier]!.stepS * 1000;
  const jTo = Math.floor(toMs / step);
  const jFrom = Math.floor(fromMs / step);
  return { startMs: jFrom * step, stepMs: step, values: new Float64Array(Math.max(0, jTo - jFrom + 1)).fill(NaN) };
}

function readerFor(file: HistoryFile, hostId: number): SeriesReader {
  return (metric, cf, tier, from, to) => file.read(hostId, metric, cf, tier, from, to) ?? gaps(tier, from, to);
}

function pointsJson(p: Points) {
  return { avg: jsonValues(p.avg), ...(p.extra ? { [p.extra.cf]: jsonValues(p.extra.values) } : {}) };
}

export function historyRoutes(r: Router, deps: HistoryDeps): void {
  const file = (): HistoryFile => {
    if (!deps.history) throw new HttpError(404, "no_history", "this master keeps no load history (master.history.enabled is false in its configuration)");
    return deps.history;
  };

  r.on("GET", "/api/v1/hosts/:name/history", (req, p, url) => {
    deps.gate.check(req, url, "read");
    const h = file();
    const host = deps.hosts.byHostname(p.name!);
    if (!host) throw new HttpError(404, "unknown_host", `no host named '${p.name}' is registered (see 'lava ctl hosts')`);
    const q = parseHistoryQuery(url.searchParams, deps.nowMs());
    const pts = hostPoints(readerFor(h, host.hostId), q, ncpusOf(host))!;
    return jsonFor(req, { host: host.hostname, hostId: host.hostId, ...seriesHead(q, { ...pts, points: pts.avg.length }), ...pointsJson(pts) });
  });

  r.on("GET", "/api/v1/history", (req, _p, url) => {
    deps.gate.check(req, url, "read");
    const h = file();
    const params = url.searchParams;
    const q = parseHistoryQuery(params, deps.nowMs());
    const agg = params.get("agg") ?? "none";
    if (agg !== "none" && agg !== "summary") throw new HttpError(400, "bad_request", `agg: none (one series per host) or summary (min, avg, max and percentiles across hosts); got '${agg.slice(0, 100)}'`);
    const names = hostsParam(params);
    const top = topParam(params);
    let hosts: HostEntry[];
    if (names) {
      const unknown = names.filter((n) => !deps.hosts.byHostname(n));
      if (unknown.length) throw new HttpError(404, "unknown_host", `no host named ${unknown.slice(0, 5).map((n) => `'${n}'`).join(", ")}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ""} is registered`);
      hosts = names.map((n) => deps.hosts.byHostname(n)!);
    } else hosts = deps.hosts.list();
    const series = hosts.map((host) => ({ host, pts: hostPoints(readerFor(h, host.hostId), q, ncpusOf(host))! }));
    const sample = series[0]?.pts ?? hostPoints(() => gaps(q.tier, q.fromMs, q.toMs), q, 1)!;
    const head = seriesHead(q, { ...sample, points: sample.avg.length });
    if (agg === "summary") {
      const s = summarize(series.map((x) => x.pts.avg), sample.avg.length);
      return jsonFor(req, { ...head, hosts: series.length, summary: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, jsonValues(v)])) });
    }
    let chosen = series;
    if (top !== null) {
      const peak = (pts: Points) => {
        let m = -Infinity;
        for (const v of pts.extra?.cf === "max" ? pts.extra.values : pts.avg) if (v > m) m = v;
        return m;
      };
      chosen = series.map((x) => ({ ...x, peak: peak(x.pts) })).sort((a, b) => b.peak - a.peak || (a.host.hostname < b.host.hostname ? -1 : 1)).slice(0, top);
    }
    return jsonFor(req, { ...head, hosts: chosen.map((x) => ({ host: x.host.hostname, hostId: x.host.hostId, ...pointsJson(x.pts) })) });
  });
}

