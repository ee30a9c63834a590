/**
 * `lava ctl check`'s verdict (docs/api.md "lava ctl check"): Nagios plugin
 * conventions, one status line with perfdata, exit 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN. Pure: what the masters answered comes in.
 *
 * - UNKNOWN: no master answers /healthz, or the cluster's state could not
 *   be read (bad token, an error answer). No perfdata then: no made-up
 *   zeros.
 * - CRITICAL: any critical alert, or at least --crit-unavail-pct percent of
 *   the hosts down (unavail or unreach).
 * - WARNING: any warning alert, at least --warn-unavail hosts down, or a
 *   master of the --master list not answering /healthz.
 * - OK otherwise (also with no hosts registered).
 *
 * Grace: for --grace seconds (default three report intervals) after the
 * master started or became the leader, hosts down are `pending`, not down:
 * the agents are still finding the new master, and a planned restart or a
 * failover must not page anyone.
 */

export const CHECK = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;
export type CheckCode = (typeof CHECK)[keyof typeof CHECK];
export const CHECK_STATES = ["OK", "WARNING", "CRITICAL", "UNKNOWN"] as const;

export interface CheckThresholds {
  /** Hosts down (unavail + unreach) from which the state is WARNING; 0 = never. */
  warnUnavail: number;
  /** Percent of hosts down from which the state is CRITICAL; 0 = never. */
  critUnavailPct: number;
  /** Seconds after a master start or leader change during which down hosts are pending; null = three report intervals. */
  graceSec?: number | null;
}

export const CHECK_DEFAULTS: CheckThresholds = { warnUnavail: 1, critUnavailPct: 10, graceSec: null };

/** Report interval assumed when an older master does not say its own. */
const DEFAULT_REPORT_INTERVAL_MS = 4000;
/** Down hosts named in the summary before "and N more". */
export const NAMED_HOSTS_MAX = 5;

export interface CheckInput {
  masters: { address: string; up: boolean }[];
  /** GET /api/v1/status's `hosts` (counts by state and total), or null with `error`. */
  hosts: Record<string, number> | null;
  /** Active alerts (GET /api/v1/alerts), or null with `error`. */
  alerts: { host: string; id: string; severity: string }[] | null;
  error: string | null;
  /** Names of the hosts that are unavail or unreach (GET /api/v1/load), in the master's order; absent from older callers. */
  downHosts?: string[];
  /** How long the answering master has been up and leading (ms), and its report interval: for the grace period. */
  master?: { upForMs: number | null; reportIntervalMs: number | null };
}

/** One perfdata item, as the plugin guidelines define it: 'label'=value[UOM];[warn];[crit];[min];[max]. */
export interface PerfItem {
  label: string;
  value: number;
  uom: "" | "%";
  warn: string;
  crit: string;
  min: number | null;
  max: number | null;
}

export interface CheckVerdict {
  code: CheckCode;
  /** OK, WARNING, CRITICAL or UNKNOWN. */
  state: (typeof CHECK_STATES)[number];
  summary: string;
  /** The figures by label (kept as earlier versions had them, for --json readers); null when UNKNOWN. */
  perf: Record<string, number | string> | null;
  /** The perfdata items with thresholds and bounds; null when UNKNOWN. */
  perfdata: PerfItem[] | null;
  /** The plugin line: `LAVA <state> - <summary>[ | <perfdata>]`. */
  line: string;
}

/** `label=value[UOM];warn;crit;min;max`, trailing empty fields dropped, the label quoted only if it must be. */
export function formatPerf(p: PerfItem): string {
  const label = /^[A-Za-z0-9_.-]+$/.test(p.label) ? p.label : `'${p.label.replace(/'/g, "''")}'`;
  const fields = [`${label}=${p.value}${p.uom}`, p.warn, p.crit, p.min === null ? "" : String(p.min), p.max === null ? "" : String(p.max)];
  while (fields.length > 1 && fields[fields.length - 1] === "") fields.pop();
  return fields.join(";");
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The first few names, then "and N more". */
export function nameSome(names: readonly string[], max = NAMED_HOSTS_MAX): string {
  if (names.length <= max) return names.join(", ");
  return `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}

export function checkVerdict(input: CheckInput, t: CheckThresholds): CheckVerdict {
  const up = input.masters.filter((m) => m.up).length;
  const total = input.masters.length;
  const unknown = (text: string): CheckVerdict => {
    const summary = text.replace(/[|\n]/g, " ");
    return { code: CHECK.unknown, state: "UNKNOWN", summary, perf: null, perfdata: null, line: `LAVA UNKNOWN - ${summary}` };
  };
  if (up === 0) return unknown(`no master answers /healthz (tried ${input.masters.map((m) => m.address).join(", ")})`);
  if (input.error !== null || input.hosts === null || input.alerts === null) return unknown(`cannot read the cluster's state: ${input.error ?? "no answer"}`);

  const h = input.hosts;
  const count = (k: string) => (typeof h[k] === "number" && Number.isFinite(h[k]) ? h[k]! : 0);
  const hostsTotal = count("total");
  const unavail = count("unavail");
  const unreach = count("unreach");
  const graceMs = t.graceSec != null ? t.graceSec * 1000 : 3 * (input.master?.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS);
  const upForMs = input.master?.upForMs ?? null;
  const inGrace = upForMs !== null && upForMs < graceMs;
  const pending = inGrace ? unavail + unreach : 0;
  const down = inGrace ? 0 : unavail + unreach;
  const alerts = input.alerts;
  const crit = alerts.filter((a) => a.severity === "critical");
  const warn = alerts.filter((a) => a.severity === "warning");

  // Nagios ranges: "N" alerts above N, "N:" below N. "WARNING from 1 host down" is the range 0..0.
  const critHosts = t.critUnavailPct > 0 && hostsTotal > 0 ? Math.ceil((hostsTotal * t.critUnavailPct) / 100 - 1e-9) : 0;
  const perfdata: PerfItem[] = [
    { label: "hosts", value: hostsTotal, uom: "", warn: "", crit: "", min: 0, max: null },
    { label: "ok", value: count("ok"), uom: "", warn: "", crit: "", min: 0, max: hostsTotal },
    { label: "down", value: down, uom: "", warn: t.warnUnavail > 0 ? String(t.warnUnavail - 1) : "", crit: critHosts > 0 ? String(critHosts - 1) : "", min: 0, max: hostsTotal },
    { label: "unavail", value: inGrace ? 0 : unavail, uom: "", warn: "", crit: "", min: 0, max: hostsTotal },
    { label: "unreach", value: inGrace ? 0 : unreach, uom: "", warn: "", crit: "", min: 0, max: hostsTotal },
    { label: "pending", value: pending, uom: "", warn: "", crit: "", min: 0, max: hostsTotal },
    { label: "alerts_warning", value: warn.length, uom: "", warn: "0", crit: "", min: 0, max: null },
    { label: "alerts_critical", value: crit.length, uom: "", warn: "", crit: "0", min: 0, max: null },
    { label: "masters_up", value: up, uom: "", warn: `${total}:`, crit: "", min: 0, max: total },
  ];
  const perf: Record<string, number | string> = {
    hosts: hostsTotal,
    ok: count("ok"),
    unavail: inGrace ? 0 : unavail,
    unreach: inGrace ? 0 : unreach,
    alerts_warning: warn.length,
    alerts_critical: crit.length,
    masters_up: `${up}/${total}`,
    down,
    pending,
  };
  const perfText = perfdata.map(formatPerf).join(" ");
  const line = (code: CheckCode, text: string): CheckVerdict => {
    const summary = text.replace(/[|\n]/g, " ");
    return { code, state: CHECK_STATES[code], summary, perf, perfdata, line: `LAVA ${CHECK_STATES[code]} - ${summary} | ${perfText}` };
  };

  const named = (list: typeof alerts) => list.slice(0, 3).map((a) => `${a.host} ${a.id}`).join(", ") + (list.length > 3 ? ", …" : "");
  const downNames = input.downHosts && input.downHosts.length > 0 ? `: ${nameSome(input.downHosts)}` : "";
  const downPct = hostsTotal > 0 ? (100 * down) / hostsTotal : 0;
  const problems: { code: CheckCode; text: string }[] = [];
  if (crit.length > 0) problems.push({ code: CHECK.critical, text: `${plural(crit.length, "critical alert")} (${named(crit)})` });
  if (down > 0) {
    const text = `${down} of ${hostsTotal} hosts down (unavail ${unavail}, unreach ${unreach})${downNames}`;
    if (t.critUnavailPct > 0 && downPct >= t.critUnavailPct) problems.push({ code: CHECK.critical, text });
    else if (t.warnUnavail > 0 && down >= t.warnUnavail) problems.push({ code: CHECK.warning, text });
  }
  if (warn.length > 0) problems.push({ code: CHECK.warning, text: `${plural(warn.length, "warning alert")} (${named(warn)})` });
  if (up < total) problems.push({ code: CHECK.warning, text: `master ${input.masters.filter((m) => !m.up).map((m) => m.address).join(", ")} not answering` });

  const pendingText = pending > 0 ? `, ${pending} pending (master up or leading for ${Math.round((upForMs ?? 0) / 1000)} s of a ${Math.round(graceMs / 1000)} s grace${downNames})` : "";
  if (problems.length === 0) return line(CHECK.ok, `${plural(hostsTotal, "host")}, ${down} down${pendingText}, no alerts, ${up}/${total} masters up`);
  const code = Math.max(...problems.map((p) => p.code)) as CheckCode;
  problems.sort((a, b) => b.code - a.code);
  return line(code, problems.map((p) => p.text).join("; ") + pendingText);
}
