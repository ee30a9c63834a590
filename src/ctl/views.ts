/**
 * Human renderings of the master's answers (docs/api.md). Pure: an answer
 * in, text out. Missing or null values (a host that has not reported yet, an
 * older master) print as "-" instead of failing, so one odd row never hides
 * the others.
 */
import { formatAge, formatBytes, formatCount, formatLoad, formatPercent, formatTable, formatTime, truncate, type Column } from "./table.ts";
import { HOST_STATES } from "../control/host-states.ts";

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

const lossText = (p: number | null) => (p === null ? "-" : p.toFixed(1));

interface LoadColumn {
  title: string;
  align?: "right";
  /** Shown for a host whose values are stale (unavail: no report for 3 intervals): kept, not replaced by "-". */
  live?: true;
  cell: (r: Row) => string;
  /** What `-s FIELD` sorts by (numbers; null last). */
  key: (r: Row) => number | string | null;
}

const R = "right" as const;
/**
 * Every column `lava ctl load` can show, by the `--json` field it shows (and
 * `ut`, CPU busy = user + sys). MEMFREE and SWPFREE are free memory and swap
 * (MemAvailable, SwapFree); `lava ctl hosts` shows the total as MEMTOTAL.
 */
export const LOAD_COLUMNS: Record<string, LoadColumn> = {
  host: { title: "HOST", live: true, cell: (r) => str(r.host), key: (r) => str(r.host) },
  hostId: { title: "ID", align: R, live: true, cell: (r) => formatCount(num(r.hostId)), key: (r) => num(r.hostId) },
  status: { title: "STATUS", live: true, cell: (r) => str(r.status), key: (r) => str(r.status) },
  load1: { title: "R1M", align: R, cell: (r) => formatLoad(num(r.load1)), key: (r) => num(r.load1) },
  load5: { title: "R5M", align: R, cell: (r) => formatLoad(num(r.load5)), key: (r) => num(r.load5) },
  load15: { title: "R15M", align: R, cell: (r) => formatLoad(num(r.load15)), key: (r) => num(r.load15) },
  ut: { title: "UT", align: R, cell: (r) => formatPercent(cpuBusy(r)), key: cpuBusy },
  cpuUser: { title: "USR", align: R, cell: (r) => formatPercent(num(r.cpuUser)), key: (r) => num(r.cpuUser) },
  cpuSys: { title: "SYS", align: R, cell: (r) => formatPercent(num(r.cpuSys)), key: (r) => num(r.cpuSys) },
  cpuIdle: { title: "IDLE", align: R, cell: (r) => formatPercent(num(r.cpuIdle)), key: (r) => num(r.cpuIdle) },
  memUsed: { title: "MEMUSED", align: R, cell: (r) => formatBytes(num(r.memUsed)), key: (r) => num(r.memUsed) },
  memFree: { title: "MEMFREE", align: R, cell: (r) => formatBytes(num(r.memFree)), key: (r) => num(r.memFree) },
  swapUsed: { title: "SWPUSED", align: R, cell: (r) => formatBytes(num(r.swapUsed)), key: (r) => num(r.swapUsed) },
  swapFree: { title: "SWPFREE", align: R, cell: (r) => formatBytes(num(r.swapFree)), key: (r) => num(r.swapFree) },
  ncpus: { title: "NCPU", align: R, cell: (r) => formatCount(num(r.ncpus)), key: (r) => num(r.ncpus) },
  jobsRunning: { title: "JOBS", align: R, cell: (r) => formatCount(num(r.jobsRunning)), key: (r) => num(r.jobsRunning) },
  jobsPending: { title: "PEND", align: R, cell: (r) => formatCount(num(r.jobsPending)), key: (r) => num(r.jobsPending) },
  procsTotal: { title: "PROCS", align: R, cell: (r) => formatCount(num(r.procsTotal)), key: (r) => num(r.procsTotal) },
  lossPct: { title: "LOSS%", align: R, live: true, cell: (r) => lossText(num(r.lossPct)), key: (r) => num(r.lossPct) },
  reportsLost: { title: "LOST", align: R, live: true, cell: (r) => formatCount(num(r.reportsLost)), key: (r) => num(r.reportsLost) },
  reportsReceived: { title: "RCVD", align: R, live: true, cell: (r) => formatCount(num(r.reportsReceived)), key: (r) => num(r.reportsReceived) },
  ageMs: { title: "AGE", align: R, live: true, cell: (r) => formatAge(num(r.ageMs)), key: (r) => num(r.ageMs) },
};

export const LOAD_FIELDS_DEFAULT = ["host", "status", "load1", "load5", "load15", "ut", "memFree", "swapFree", "ncpus", "jobsRunning", "ageMs"] as const;
export const LOAD_FIELDS_LONG = ["host", "status", "load1", "load5", "load15", "ut", "cpuUser", "cpuSys", "memFree", "swapFree", "ncpus", "jobsRunning", "jobsPending", "procsTotal", "lossPct", "ageMs"] as const;
export const LOAD_FIELDS_WIDE = ["host", "hostId", "status", "load1", "load5", "load15", "ut", "cpuUser", "cpuSys", "cpuIdle", "memUsed", "memFree", "swapUsed", "swapFree", "ncpus", "jobsRunning", "jobsPending", "procsTotal", "lossPct", "reportsLost", "reportsReceived", "ageMs"] as const;

export interface LoadTableOptions {
  /** Columns by field name (LOAD_COLUMNS); default LOAD_FIELDS_DEFAULT. */
  fields?: readonly string[];
  header?: boolean;
}

/**
 * `lava ctl load`: by default HOST STATUS R1M R5M R15M UT MEMFREE SWPFREE
 * NCPU JOBS AGE, where UT is CPU busy (user+sys), MEMFREE and SWPFREE free
 * memory and swap, JOBS the running jobs and AGE the time since the last
 * report. `long` (or LOAD_FIELDS_LONG) adds USR, SYS, PEND, PROCS and LOSS%.
 * The values of an unavail host are stale, so they show as "-"; its AGE
 * says how stale.
 */
export function loadTable(rows: readonly Row[], opts: boolean | LoadTableOptions = false): string {
  const o: LoadTableOptions = typeof opts === "boolean" ? { fields: opts ? LOAD_FIELDS_LONG : LOAD_FIELDS_DEFAULT } : opts;
  const cols = (o.fields ?? LOAD_FIELDS_DEFAULT).map((f) => {
    const c = LOAD_COLUMNS[f];
    if (!c) throw new Error(`no load column ${f}`);
    return c;
  });
  const cells = rows.map((r) => {
    const stale = r.status === "unavail";
    return cols.map((c) => (stale && !c.live ? "-" : c.cell(r)));
  });
  return formatTable(cols.map((c) => ({ title: c.title, ...(c.align ? { align: c.align } : {}) })), cells, { header: o.header !== false });
}

/**
 * Rows sorted by a load field, ascending, or descending with a leading "-"
 * (`-load1`, as `ps --sort`); missing values last either way, then by host
 * name. Throws on an unknown field (the caller makes it a usage error).
 */
export function sortLoadRows(rows: readonly Row[], spec: string): Row[] {
  const desc = spec.startsWith("-");
  const field = desc ? spec.slice(1) : spec;
  const col = LOAD_COLUMNS[field];
  if (!col) throw new Error(`unknown field "${field}"`);
  return [...rows].sort((a, b) => {
    const x = col.key(a);
    const y = col.key(b);
    if (x === null || y === null || x === "-" || y === "-") {
      const missing = (x === null || x === "-" ? 1 : 0) - (y === null || y === "-" ? 1 : 0);
      if (missing !== 0) return missing;
    } else if (x !== y) {
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return desc ? -c : c;
    }
    return str(a.host).localeCompare(str(b.host));
  });
}

/** `lava ctl hosts`: HOST ID STATUS NCPU MEMTOTAL GPUS OS VERSION CONN (control channel up: yes/no), REASON (why it is drained). */
export function hostsTable(rows: readonly Row[]): string {
  const columns: Column[] = [
    { title: "HOST" },
    { title: "ID", align: R },
    { title: "STATUS" },
    { title: "NCPU", align: R },
    { title: "MEMTOTAL", align: R },
    { title: "GPUS", align: R },
    { title: "OS" },
    { title: "VERSION" },
    { title: "CONN" },
    { title: "AGENT" },
    { title: "JOBS" },
    { title: "REASON" },
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
    str(r.agentStatus),
    // A master's host takes no jobs unless its agent says agent.jobs.onMaster (docs/jobs.md).
    r.takesJobs === true ? "yes" : r.takesJobs === false ? (r.onMaster === true ? "no (master)" : "no") : "-",
    r.drained === true ? (typeof r.drainReason === "string" && r.drainReason !== "" ? r.drainReason : "(none given)") : "-",
  ]);
  return formatTable(columns, cells);
}


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
    // RcvbufErrors and InErrors count every UDP socket of the machine since boot: shown since this master started when it says.
    const since = typeof ingest.kernelSinceStart === "object" && ingest.kernelSinceStart !== null ? obj(ingest.kernelSinceStart) : null;
    const m = since ?? k;
    lines.push(["kernel", `machine-wide UDP ${since ? "since this master started" : "since boot"}: receive buffer errors ${formatCount(num(m.rcvbufErrors))}, input errors ${formatCount(num(m.inErrors))}`]);
    if (num(k.socketDrops) !== null) lines.push(["", `this master's UDP socket: ${formatCount(num(k.socketDrops))} datagrams dropped (buffer full)`]);
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

/** Widest COMMAND in the jobs table; `lava ctl job ID` and `--json` have it whole. */
export const JOBS_COMMAND_WIDTH = 50;

/**
 * An argv as one line: words joined by spaces, a word quoted ('…') when it is
 * empty or holds a space, quote or shell character, so the words stay
 * visible. For people only: the job runs its argv, never a shell.
 */
export function formatArgv(argv: unknown): string {
  if (!Array.isArray(argv)) return str(argv);
  return argv.map((a) => {
    const w = typeof a === "string" ? a : String(a);
    return w !== "" && /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
  }).join(" ");
}

const exitText = (x: unknown): string => (num(x) === null ? "-" : String(num(x)));
/** A memory request: "-" for none (0), else like "512M". */
const memText = (x: unknown): string => (num(x) === 0 ? "-" : formatBytes(num(x)));

/**
 * `lava ctl jobs`: ID STATE USER QUEUE HOST EXIT ELAPSED SUBMITTED COMMAND
 * (the job's name when it has one, else its argv cut to JOBS_COMMAND_WIDTH).
 * An array is one row: ID "1000[1-1000%50]", STATE its summary, and COMMAND
 * its counts per state. `wide` adds CPUS MEM GPUS STARTED and the whole
 * command (with the name in NAME).
 */
export function jobsTable(rows: readonly Row[], wide = false): string {
  const R = "right" as const;
  const columns: Column[] = [
    { title: "ID", align: R },
    { title: "STATE" },
    { title: "USER" },
    { title: "QUEUE" },
    { title: "HOST" },
    { title: "EXIT", align: R },
    { title: "ELAPSED", align: R },
    ...(wide ? [{ title: "CPUS", align: R }, { title: "MEM", align: R }, { title: "GPUS", align: R }, { title: "STARTED" }, { title: "NAME" }] : []),
    { title: "SUBMITTED" },
    { title: "COMMAND" },
  ];
  const cells = rows.map((r) => {
    const isArray = r.array === true;
    const id = isArray ? `${str(r.id)}[${str(r.spec)}]` : typeof r.element === "string" ? r.element : str(r.id);
    const named = typeof r.name === "string" && r.name !== "" ? r.name : null;
    const command = formatArgv(r.argv);
    const shown = !wide && named !== null ? named : command;
    const label = isArray ? `${countsText(r.counts)}  ${shown}` : shown;
    return [
      id,
      str(r.state),
      str(r.user ?? r.submittedBy),
      str(r.queue),
      str(r.host),
      exitText(r.exitCode),
      formatElapsed(num(r.elapsedMs)),
      ...(wide ? [formatCount(num(r.cpus)), memText(r.memBytes), formatCount(num(r.gpus)), time(r.startedAt, true), str(r.name)] : []),
      time(r.submittedAt, true),
      wide ? label : truncate(label, JOBS_COMMAND_WIDTH),
    ];
  });
  return formatTable(columns, cells);
}

/** "PEND 900 RUN 50 DONE 50": an array's elements per state, the empty states left out. */
export function countsText(counts: unknown): string {
  if (typeof counts !== "object" || counts === null) return "-";
  const parts = Object.entries(counts as Row).filter(([, n]) => num(n) !== null && num(n)! > 0).map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(" ") : "-";
}

/** Wall time like squeue's TIME: "0:05", "12:34", "1:02:03", "2-03:04:05". */
export function formatElapsed(ms: number | null): string {
  if (ms === null) return "-";
  const total = Math.floor(Math.max(0, ms) / 1000);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  const two = (x: number) => String(x).padStart(2, "0");
  if (d > 0) return `${d}-${two(h)}:${two(m)}:${two(sec)}`;
  if (h > 0) return `${h}:${two(m)}:${two(sec)}`;
  return `${m}:${two(sec)}`;
}

const plural = (n: number | null, one: string, many = `${one}s`) => `${formatCount(n)} ${n === 1 ? one : many}`;

/**
 * `lava ctl job ID`: the job's facts (and why it waits, when pending), its
 * history, then what it wrote on stdout and stderr, each marked when the
 * master kept only part of it. Times in UTC to the second.
 */
export function jobText(j: Row): string {
  const facts: [string, string][] = [];
  facts.push(["job", typeof j.element === "string" ? `${str(j.id)} (element ${j.element})` : j.array === true ? `${str(j.id)}[${str(j.spec)}] (array of ${str(j.count)})` : str(j.id)]);
  if (typeof j.name === "string" && j.name !== "") facts.push(["name", j.name]);
  facts.push(["state", j.array === true ? `${str(j.state)} (${countsText(j.counts)})` : str(j.state)]);
  if (j.user !== undefined || j.submittedBy !== undefined) facts.push(["user", str(j.user ?? j.submittedBy)]);
  if (j.state === "PEND" && j.waiting !== null && j.waiting !== undefined) facts.push(["waiting", str(j.waiting)]);
  if (j.reason !== null && j.reason !== undefined) facts.push(["reason", str(j.reason)]);
  facts.push(["command", formatArgv(j.argv)]);
  facts.push(["queue", `${str(j.queue)} (priority ${str(j.priority)})`]);
  const mem = num(j.memBytes);
  facts.push(["request", `${plural(num(j.cpus), "cpu")}, ${mem === 0 ? "no" : formatBytes(mem)} memory, ${plural(num(j.gpus), "gpu")}`]);
  facts.push(["host", str(j.host)]);
  facts.push(["exit code", exitText(j.exitCode)]);
  const retries = num(j.retries);
  facts.push(["attempts", `${formatCount(num(j.attempts))}${retries !== null ? ` (retries allowed: ${retries})` : ""}`]);
  const timeout = num(j.timeoutSeconds);
  facts.push(["time limit", timeout === null ? "none" : `${timeout} s`]);
  if (typeof j.heldBy === "string") facts.push(["held by", j.heldBy]);
  if (typeof j.beginAt === "string") facts.push(["begin", time(j.beginAt, true)]);
  if (typeof j.deps === "object" && j.deps !== null) {
    const d = j.deps as Row;
    const parts = [["afterOk", "after-ok"], ["afterAny", "after-any"], ["afterNotOk", "after-not-ok"]].filter(([k]) => Array.isArray(d[k!])).map(([k, f]) => `${f} ${(d[k!] as unknown[]).join(",")}`);
    if (parts.length) facts.push(["depends on", parts.join("; ")]);
  }
  if (typeof j.placement === "object" && j.placement !== null) {
    const p = j.placement as Row;
    const parts = ["hosts", "exclude", "constraint"].filter((k) => Array.isArray(p[k])).map((k) => `--${k} ${(p[k] as unknown[]).join(",")}`);
    if (p.exclusive === true) parts.push("--exclusive");
    facts.push(["placement", parts.join(" ")]);
  }
  if (typeof j.stdoutPath === "string") facts.push(["stdout to", j.stdoutPath]);
  if (typeof j.stderrPath === "string") facts.push(["stderr to", j.stderrPath]);
  if (j.cwd !== undefined) facts.push(["cwd", j.cwd === null ? "-" : str(j.cwd)]);
  if (typeof j.env === "object" && j.env !== null && !Array.isArray(j.env)) {
    const env = Object.entries(j.env as Row).map(([k, v]) => (v === null ? `${k}=(hidden)` : `${k}=${str(v)}`));
    facts.push(["env", env.length ? formatArgv(env) : "-"]);
  }
  facts.push(["submitted", time(j.submittedAt, true)]);
  facts.push(["started", time(j.startedAt, true)]);
  facts.push(["finished", time(j.finishedAt, true)]);
  if (j.elapsedMs !== undefined) facts.push(["elapsed", formatElapsed(num(j.elapsedMs))]);
  if (j.cpuUserMs !== undefined) facts.push(["cpu", `${msText(j.cpuUserMs)} user, ${msText(j.cpuSysMs)} system`]);
  if (j.maxRssBytes !== undefined) facts.push(["max rss", formatBytes(num(j.maxRssBytes))]);
  const parts = [formatTable([{ title: "" }, { title: "" }], facts, { header: false })];
  if (Array.isArray(j.attemptRecords) && j.attemptRecords.length > 0) {
    const rows = (j.attemptRecords as unknown[]).map((x) => {
      const a = typeof x === "object" && x !== null ? (x as Row) : {};
      return [str(a.attempt), str(a.host), str(a.state ?? (a.finishedAt ? "-" : "RUN")), exitText(a.exitCode), time(a.startedAt, true), formatElapsed(num(a.elapsedMs)), msText(a.cpuUserMs), msText(a.cpuSysMs), formatBytes(num(a.maxRssBytes))];
    });
    const R = "right" as const;
    const columns: Column[] = [{ title: "ATTEMPT", align: R }, { title: "HOST" }, { title: "STATE" }, { title: "EXIT", align: R }, { title: "STARTED" }, { title: "ELAPSED", align: R }, { title: "USER CPU", align: R }, { title: "SYS CPU", align: R }, { title: "MAX RSS", align: R }];
    parts.push(`attempts:\n${formatTable(columns, rows)}`);
  }

  if (Array.isArray(j.history) && j.history.length > 0) {
    const rows = (j.history as unknown[]).map((h) => {
      const e = typeof h === "object" && h !== null ? (h as Row) : {};
      return [time(e.at, true), str(e.state), str(e.host), str(e.attempt), e.reason === null || e.reason === undefined ? "" : str(e.reason)];
    });
    const columns: Column[] = [{ title: "TIME" }, { title: "STATE" }, { title: "HOST" }, { title: "ATTEMPT", align: "right" }, { title: "REASON" }];
    parts.push(`history:\n${formatTable(columns, rows)}`);
  }
  for (const stream of ["stdout", "stderr"] as const) {
    if (!(stream in j)) continue;
    const text = j[stream];
    const truncated = j[`${stream}Truncated`] === true;
    if (text === null && typeof j.outputHidden === "string") {
      parts.push(`${stream}: hidden (${j.outputHidden})`);
      continue;
    }
    if (typeof text !== "string" || text === "") {
      parts.push(`${stream}: ${text === null || text === undefined ? "none" : "empty"}${truncated ? " (truncated)" : ""}`);
    } else {
      const mark = truncated ? " (truncated: the master kept only part of it)" : "";
      parts.push(`${stream}${mark}:\n${text.endsWith("\n") ? text.slice(0, -1) : text}`);
    }
  }
  return parts.join("\n\n");
}

/** `lava ctl approvals`: ID KIND STATE REQUESTER EXPIRES WHAT (times in UTC), plus DECIDED BY with --all. */
export function approvalsTable(rows: readonly Row[], all: boolean): string {
  const columns: Column[] = [{ title: "ID", align: "right" }, { title: "KIND" }, { title: "STATE" }, { title: "REQUESTER" }, { title: "EXPIRES" }, ...(all ? [{ title: "DECIDED BY" }] : []), { title: "WHAT" }];
  const cells = rows.map((r) => [str(r.id), str(r.kind), str(r.state), str(r.requester), time(r.expiresAt, true), ...(all ? [str(r.decidedBy)] : []), str(r.summary)]);
  return formatTable(columns, cells);
}

/** CPU time: "1.25 s", "-" when unknown. */
function msText(x: unknown): string {
  const n = num(x);
  return n === null ? "-" : `${(n / 1000).toFixed(2)} s`;
}

/** `lava ctl acct`: USER QUEUE JOBS ATTEMPTS DONE EXIT KILLED LOST ELAPSED CPU MAX-RSS, like sacct/bacct summaries. */
export function acctTable(rows: readonly Row[]): string {
  const R = "right" as const;
  const columns: Column[] = [
    { title: "USER" },
    { title: "QUEUE" },
    { title: "JOBS", align: R },
    { title: "ATTEMPTS", align: R },
    { title: "DONE", align: R },
    { title: "EXIT", align: R },
    { title: "KILLED", align: R },
    { title: "LOST", align: R },
    { title: "ELAPSED", align: R },
    { title: "USER CPU", align: R },
    { title: "SYS CPU", align: R },
    { title: "MAX RSS", align: R },
  ];
  const cells = rows.map((r) => [
    str(r.user),
    str(r.queue),
    formatCount(num(r.jobs)),
    formatCount(num(r.attempts)),
    formatCount(num(r.done)),
    formatCount(num(r.exit)),
    formatCount(num(r.killed)),
    formatCount(num(r.lost)),
    formatElapsed(num(r.elapsedMs)),
    msText(r.cpuUserMs),
    msText(r.cpuSysMs),
    formatBytes(num(r.maxRssBytes)),
  ]);
  return formatTable(columns, cells);
}

/** `lava ctl queues`: QUEUE PRIO MAX RUN PEND HOSTS (open/total) CPUS USERS, like bqueues. */
export function queuesTable(rows: readonly Row[]): string {
  const R = "right" as const;
  const columns: Column[] = [
    { title: "QUEUE" },
    { title: "PRIO", align: R },
    { title: "MAX", align: R },
    { title: "RUN", align: R },
    { title: "PEND", align: R },
    { title: "HOSTS", align: R },
    { title: "CPUS", align: R },
    { title: "POOL" },
    { title: "USERS" },
  ];
  const list = (x: unknown) => (Array.isArray(x) && x.length > 0 ? x.map(String).join(",") : "all");
  const cells = rows.map((r) => [
    str(r.name),
    formatCount(num(r.priority)),
    num(r.maxRunning) === null ? "-" : formatCount(num(r.maxRunning)),
    formatCount(num(r.running)),
    formatCount(num(r.pending)),
    `${formatCount(num(r.hostsOpen))}/${formatCount(num(r.hostsTotal))}`,
    formatCount(num(r.cpusTotal)),
    list(r.hosts),
    list(r.users),
  ]);
  return formatTable(columns, cells);
}
