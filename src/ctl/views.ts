/**
 * Human renderings of the master's answers (docs/api.md). Pure: an answer
 * in, text out. Missing or null values (a host that has not reported yet, an
 * older master) print as "-" instead of failing, so one odd row never hides
 * the others.
 */
import { formatAge, formatBytes, formatCount, formatLoad, formatPercent, formatTable, formatTime, truncate, type Column } from "./table.ts";

type Row = Record<string, unknown>;

const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);
const str = (x: unknown): string => (typeof x === "string" ? x : x === null || x === undefined ? "-" : String(x));
const time = (x: unknown, seconds = false): string =>
  typeof x === "string" || typeof x === "number" ? formatTime(x, seconds) : x === null || x === undefined ? "-" : String(x);

/** CPU busy percent: user + sys (what `lsload` calls ut). */
function cpuBusy(r: Row): number | null {
  const user = num(r.cpuUser);
  const sys = num(r.cpuSys);
  if (user !== null && sys !== null) return user + sys;
  const idle = num(r.cpuIdle);
  return idle === null ? null : 100 - idle;
}

/**
 * `lava ctl load`: HOST STATUS R1M R5M R15M UT MEM SWP NCPU JOBS AGE, where
 * UT is CPU busy (user+sys), MEM and SWP are free memory and swap, JOBS the
 * running jobs and AGE the time since the last report. `long` adds USR, SYS,
 * PEND, PROCS and LOSS% (report loss from AUTH seq gaps).
 */
export function loadTable(rows: readonly Row[], long = false): string {
  const R = "right" as const;
  const columns: Column[] = [
    { title: "HOST" },
    { title: "STATUS" },
    { title: "R1M", align: R },
    { title: "R5M", align: R },
    { title: "R15M", align: R },
    { title: "UT", align: R },
    ...(long ? [{ title: "USR", align: R }, { title: "SYS", align: R }] : []),
    { title: "MEM", align: R },
    { title: "SWP", align: R },
    { title: "NCPU", align: R },
    { title: "JOBS", align: R },
    ...(long ? [{ title: "PEND", align: R }, { title: "PROCS", align: R }, { title: "LOSS%", align: R }] : []),
    { title: "AGE", align: R },
  ];
  const cells = rows.map((r) => [
    str(r.host),
    str(r.status),
    formatLoad(num(r.load1)),
    formatLoad(num(r.load5)),
    formatLoad(num(r.load15)),
    formatPercent(cpuBusy(r)),
    ...(long ? [formatPercent(num(r.cpuUser)), formatPercent(num(r.cpuSys))] : []),
    formatBytes(num(r.memFree)),
    formatBytes(num(r.swapFree)),
    formatCount(num(r.ncpus)),
    formatCount(num(r.jobsRunning)),
    ...(long ? [formatCount(num(r.jobsPending)), formatCount(num(r.procsTotal)), lossText(num(r.lossPct))] : []),
    formatAge(num(r.ageMs)),
  ]);
  return formatTable(columns, cells);
}

const lossText = (p: number | null) => (p === null ? "-" : p.toFixed(1));

/** `lava ctl hosts`: HOST ID STATUS NCPU MEM GPUS OS VERSION CONN (control channel up: yes/no). */
export function hostsTable(rows: readonly Row[]): string {
  const R = "right" as const;
  const columns: Column[] = [
    { title: "HOST" },
    { title: "ID", align: R },
    { title: "STATUS" },
    { title: "NCPU", align: R },
    { title: "MEM", align: R },
    { title: "GPUS", align: R },
    { title: "OS" },
    { title: "VERSION" },
    { title: "CONN" },
  ];
  const cells = rows.map((r) => [
    str(r.host),
    formatCount(num(r.hostId)),
    str(r.status),
    formatCount(num(r.ncpus)),
    formatBytes(num(r.memBytes)),
    formatCount(num(r.gpus)),
    str(r.os),
    str(r.version),
    r.connected === true ? "yes" : r.connected === false ? "no" : "-",
  ]);
  return formatTable(columns, cells);
}

export const HOST_STATES = ["ok", "busy", "drained", "unavail", "unreach"] as const;

/**
 * `lava ctl status`: the master, hosts by state, ingest counters with each
 * nonzero drop reason (in the master's order), kernel UDP drops, sessions.
 */
export function statusText(s: Row): string {
  const obj = (x: unknown): Row => (typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Row) : {});
  const master = obj(s.master);
  const hosts = obj(s.hosts);
  const ingest = obj(s.ingest);
  const lines: [string, string][] = [];

  const about = [`${str(master.version)}${typeof master.commit === "string" ? ` (commit ${master.commit})` : ""}`];
  if (master.nodeId !== undefined && master.nodeId !== null) about.push(`node ${str(master.nodeId)}`);
  if (num(master.uptimeMs) !== null) about.push(`up ${formatAge(num(master.uptimeMs))}`);
  if (master.insecure === true) about.push("INSECURE mode (no tokens)");
  lines.push(["master", about.join(", ")]);

  const states = [...HOST_STATES, ...Object.keys(hosts).filter((k) => k !== "total" && !(HOST_STATES as readonly string[]).includes(k))];
  const byState = states.map((k) => `${formatCount(num(hosts[k]) ?? 0)} ${k}`).join(", ");
  lines.push(["hosts", `${formatCount(num(hosts.total))} total: ${byState}`]);

  const dropped = Object.entries(obj(ingest.dropped)).filter(([, n]) => (num(n) ?? 0) > 0);
  const drops = dropped.length ? dropped.map(([reason, n]) => `${formatCount(num(n))} ${reason}`).join(", ") : "none";
  lines.push(["ingest", `${formatCount(num(ingest.accepted))} reports accepted; dropped: ${drops}`]);

  if (typeof ingest.kernel === "object" && ingest.kernel !== null) {
    const k = obj(ingest.kernel);
    const socket = num(k.socketDrops) !== null ? `, socket drops ${formatCount(num(k.socketDrops))}` : "";
    lines.push(["kernel", `UDP receive buffer errors ${formatCount(num(k.rcvbufErrors))}, input errors ${formatCount(num(k.inErrors))}${socket}`]);
  }
  if (s.sessions !== undefined) lines.push(["sessions", formatCount(num(s.sessions))]);
  return formatTable([{ title: "" }, { title: "" }], lines, { header: false });
}

/** `lava ctl token list`: JTI ROLE SUBJECT HOST CREATED EXPIRES REVOKED, times in UTC to the minute, "-" for none. */
export function tokensTable(rows: readonly Row[]): string {
  const columns: Column[] = [
    { title: "JTI" },
    { title: "ROLE" },
    { title: "SUBJECT" },
    { title: "HOST" },
    { title: "CREATED" },
    { title: "EXPIRES" },
    { title: "REVOKED" },
  ];
  const cells = rows.map((r) => [str(r.jti), str(r.role), str(r.subject), str(r.host), time(r.issuedAt), time(r.expiresAt), time(r.revokedAt)]);
  return formatTable(columns, cells);
}

/** Widest RESULT in the audit table; `--json` has it whole. */
export const AUDIT_RESULT_WIDTH = 40;

/** `lava ctl audit`: TIME ACTOR ROLE ACTION TARGET RESULT, times in UTC to the second, RESULT cut to AUDIT_RESULT_WIDTH. */
export function auditTable(rows: readonly Row[]): string {
  const columns: Column[] = [{ title: "TIME" }, { title: "ACTOR" }, { title: "ROLE" }, { title: "ACTION" }, { title: "TARGET" }, { title: "RESULT" }];
  const cells = rows.map((r) => [time(r.at, true), str(r.actor), str(r.role), str(r.action), str(r.target), truncate(str(r.result), AUDIT_RESULT_WIDTH)]);
  return formatTable(columns, cells);
}
