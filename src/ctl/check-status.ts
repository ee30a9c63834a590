/**
 * `lava ctl check`'s verdict (docs/api.md "lava ctl check"): Nagios plugin
 * conventions, one status line with perfdata, exit 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN. Pure: what the masters answered comes in.
 *
 * - UNKNOWN: no master answers /healthz, or the cluster's state could not
 *   be read (bad token, an error answer).
 * - CRITICAL: any critical alert, or at least --crit-unavail-pct percent of
 *   the hosts down (unavail or unreach).
 * - WARNING: any warning alert, at least --warn-unavail hosts down, or a
 *   master of the --master list not answering /healthz.
 * - OK otherwise (also with no hosts registered).
 */

export const CHECK = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;
export type CheckCode = (typeof CHECK)[keyof typeof CHECK];
export const CHECK_STATES = ["OK", "WARNING", "CRITICAL", "UNKNOWN"] as const;

export interface CheckThresholds {
  /** Hosts down (unavail + unreach) from which the state is WARNING; 0 = never. */
  warnUnavail: number;
  /** Percent of hosts down from which the state is CRITICAL; 0 = never. */
  critUnavailPct: number;
}

export const CHECK_DEFAULTS: CheckThresholds = { warnUnavail: 1, critUnavailPct: 10 };

export interface CheckInput {
  masters: { address: string; up: boolean }[];
  /** GET /api/v1/status's `hosts` (counts by state and total), or null with `error`. */
  hosts: Record<string, number> | null;
  /** Active alerts (GET /api/v1/alerts), or null with `error`. */
  alerts: { host: string; id: string; severity: string }[] | null;
  error: string | null;
}

export interface CheckVerdict {
  code: CheckCode;
  /** OK, WARNING, CRITICAL or UNKNOWN. */
  state: (typeof CHECK_STATES)[number];
  summary: string;
  perf: Record<string, number | string>;
  /** The plugin line: `LAVA <state> - <summary> | <perfdata>`. */
  line: string;
}

export function checkVerdict(input: CheckInput, t: CheckThresholds): CheckVerdict {
  const up = input.masters.filter((m) => m.up).length;
  const total = input.masters.length;
  const h = input.hosts ?? {};
  const count = (k: string) => (typeof h[k] === "number" && Number.isFinite(h[k]) ? h[k]! : 0);
  const hostsTotal = count("total");
  const down = count("unavail") + count("unreach");
  const alerts = input.alerts ?? [];
  const crit = alerts.filter((a) => a.severity === "critical");
  const warn = alerts.filter((a) => a.severity === "warning");
  const perf = { hosts: hostsTotal, ok: count("ok"), unavail: count("unavail"), unreach: count("unreach"), alerts_warning: warn.length, alerts_critical: crit.length, masters_up: `${up}/${total}` };
  const perfText = Object.entries(perf).map(([k, n]) => `${k}=${n}`).join(" ");
  const line = (code: CheckCode, text: string): CheckVerdict => {
    const summary = text.replace(/[|\n]/g, " ");
    return { code, state: CHECK_STATES[code], summary, perf, line: `LAVA ${CHECK_STATES[code]} - ${summary} | ${perfText}` };
  };

  if (up === 0) return line(CHECK.unknown, `no master answers /healthz (tried ${input.masters.map((m) => m.address).join(", ")})`);
  if (input.error !== null || input.hosts === null || input.alerts === null) return line(CHECK.unknown, `cannot read the cluster's state: ${input.error ?? "no answer"}`);

  const named = (list: typeof alerts) => list.slice(0, 3).map((a) => `${a.host} ${a.id}`).join(", ") + (list.length > 3 ? ", …" : "");
  const downPct = hostsTotal > 0 ? (100 * down) / hostsTotal : 0;
  const problems: { code: CheckCode; text: string }[] = [];
  if (crit.length > 0) problems.push({ code: CHECK.critical, text: `${crit.length} critical alert${crit.length === 1 ? "" : "s"} (${named(crit)})` });
  if (down > 0) {
    const text = `${down} of ${hostsTotal} hosts down (unavail ${count("unavail")}, unreach ${count("unreach")})`;
    if (t.critUnavailPct > 0 && downPct >= t.critUnavailPct) problems.push({ code: CHECK.critical, text });
    else if (t.warnUnavail > 0 && down >= t.warnUnavail) problems.push({ code: CHECK.warning, text });
  }
  if (warn.length > 0) problems.push({ code: CHECK.warning, text: `${warn.length} warning alert${warn.length === 1 ? "" : "s"} (${named(warn)})` });
  if (up < total) problems.push({ code: CHECK.warning, text: `master ${input.masters.filter((m) => !m.up).map((m) => m.address).join(", ")} not answering` });

  if (problems.length === 0) return line(CHECK.ok, `${hostsTotal} host${hostsTotal === 1 ? "" : "s"}, ${down} down, no alerts, ${up}/${total} masters up`);
  const code = Math.max(...problems.map((p) => p.code)) as CheckCode;
  problems.sort((a, b) => b.code - a.code);
  return line(code, problems.map((p) => p.text).join("; "));
}
