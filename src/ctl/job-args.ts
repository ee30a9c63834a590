/**
 * The job commands' flags turned into what goes to the master (design §5,
 * §8), checked here so that a typo is exit 2 before anything is sent. Pure.
 */
import { LavaError } from "../errors.ts";
import { JOB_STATES, type JobState } from "../jobs/types.ts";
import { outputPathProblem, parseArraySpec, parseElementRef } from "../jobs/index.ts";

const usage = (message: string) => new LavaError(message, "usage");

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * A memory size: bytes ("1048576"), or a number with K, M, G or T in powers
 * of 1024 ("512M", "2G", "1.5G"; "512B", "2GB" and "2GiB" are read the same way).
 * Null if it is not one, or is not a whole number of bytes a double holds exactly.
 */
export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(?:([KMGT])(?:i?B)?|B)?$/i.exec(text.trim());
  if (!m) return null;
  const unit = (m[2] ?? "").toUpperCase();
  if (unit === "" && m[1]!.includes(".")) return null; // fractions of a byte
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[unit]!);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** A whole number in [min, max] from a flag; anything else is a usage error naming the flag. */
export function wholeFlag(name: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER, what = "a whole number"): number {
  const text = raw.trim();
  const n = Number(text);
  if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? (min === Number.MIN_SAFE_INTEGER ? "" : ` of at least ${min}`) : ` from ${min} to ${max}`;
    throw usage(`--${name} must be ${what}${range}, got "${raw}"`);
  }
  return n;
}

export interface SubmitFlags {
  cpus?: string | undefined;
  mem?: string | undefined;
  gpus?: string | undefined;
  /** The job's time limit (design §11). */
  "time-limit"?: string | undefined;
  /** Old spelling of --time-limit (kept; submit notes it on stderr). */
  timeout?: string | undefined;
  retries?: string | undefined;
  priority?: string | undefined;
  queue?: string | undefined;
  cwd?: string | undefined;
  name?: string | undefined;
  output?: string | undefined;
  error?: string | undefined;
  array?: string | undefined;
  "after-ok"?: string | undefined;
  "after-any"?: string | undefined;
  "after-not-ok"?: string | undefined;
  begin?: string | undefined;
  hosts?: string | undefined;
  exclude?: string | undefined;
  constraint?: string | undefined;
  exclusive?: boolean | undefined;
  hold?: boolean | undefined;
}

/** The POST /api/v1/jobs body (the master's contract); only what was given is sent, so the master's defaults apply. */
export interface SubmitRequest {
  argv: string[];
  cpus?: number;
  memBytes?: number;
  gpus?: number;
  priority?: number;
  queue?: string;
  timeoutSeconds?: number;
  retries?: number;
  env?: Record<string, string>;
  cwd?: string;
  name?: string;
  stdoutPath?: string;
  stderrPath?: string;
  array?: string;
  afterOk?: number[];
  afterAny?: number[];
  afterNotOk?: number[];
  /** ms since the epoch. */
  begin?: number;
  hosts?: string[];
  exclude?: string[];
  constraint?: string[];
  exclusive?: boolean;
  hold?: boolean;
}

/**
 * The submit body. `argv` is everything after `--` (null: there was no `--`),
 * `env` every `--env K=V` in order (a later K wins), `stray` the positionals
 * before `--` (a command given without `--`, refused so that its own flags are
 * never taken for ours).
 */
export function submitRequest(flags: SubmitFlags, argv: readonly string[] | null, env: readonly string[], stray: readonly string[], nowMs: number = Date.now()): SubmitRequest {
  if (stray.length > 0) {
    throw usage(`put -- before the command to run: lava ctl submit [flags] -- ${stray.join(" ")}`);
  }
  if (argv === null || argv.length === 0) throw usage("submit needs a command after --: lava ctl submit [flags] -- ARGV…");
  if (argv[0] === "") throw usage("submit: the command to run (the first word after --) is empty");
  const out: SubmitRequest = { argv: [...argv] };
  if (flags.cpus !== undefined) out.cpus = wholeFlag("cpus", flags.cpus, 1);
  if (flags.mem !== undefined) {
    const bytes = parseSize(flags.mem);
    if (bytes === null) throw usage(`--mem must be a size in bytes or with K, M, G or T (powers of 1024), like 512M or 2G; got "${flags.mem}"`);
    out.memBytes = bytes;
  }
  if (flags.gpus !== undefined) out.gpus = wholeFlag("gpus", flags.gpus, 0);
  if (flags.priority !== undefined) out.priority = wholeFlag("priority", flags.priority, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, "a whole number");
  if (flags.queue !== undefined) {
    if (flags.queue.trim() === "") throw usage("--queue must not be empty");
    out.queue = flags.queue;
  }
  if (flags["time-limit"] !== undefined && flags.timeout !== undefined) throw usage("give --time-limit alone (--timeout is its old spelling)");
  if (flags["time-limit"] !== undefined) out.timeoutSeconds = wholeFlag("time-limit", flags["time-limit"], 1, Number.MAX_SAFE_INTEGER, "a whole number of seconds");
  if (flags.timeout !== undefined) out.timeoutSeconds = wholeFlag("timeout", flags.timeout, 1, Number.MAX_SAFE_INTEGER, "a whole number of seconds");
  if (flags.retries !== undefined) out.retries = wholeFlag("retries", flags.retries, 0);
  if (env.length > 0) {
    const vars: Record<string, string> = {};
    for (const kv of env) {
      const eq = kv.indexOf("=");
      if (eq <= 0) throw usage(`--env must be NAME=VALUE, got "${kv}"`);
      const name = kv.slice(0, eq);
      if (name.includes("\0") || kv.includes("\0")) throw usage(`--env must not contain a NUL character`);
      vars[name] = kv.slice(eq + 1);
    }
    out.env = vars;
  }
  if (flags.cwd !== undefined) {
    if (flags.cwd.trim() === "") throw usage("--cwd must not be empty");
    if (flags.cwd.includes("\0")) throw usage("--cwd must not contain a NUL character");
    out.cwd = flags.cwd;
  }
  if (argv.some((a) => a.includes("\0"))) throw usage("the command must not contain a NUL character");
  if (flags.name !== undefined) {
    if (flags.name.trim() === "" || /[\0\n\r]/.test(flags.name) || flags.name.length > 255) throw usage("--name must be one line of at most 255 characters");
    out.name = flags.name;
  }
  for (const [flag, key] of [["output", "stdoutPath"], ["error", "stderrPath"]] as const) {
    const value = flags[flag];
    if (value === undefined) continue;
    const problem = outputPathProblem(value, flag === "output" ? "-o" : "-e");
    if (problem) throw usage(problem);
    out[key] = value;
  }
  if (flags.array !== undefined) {
    const spec = parseArraySpec(flags.array);
    if (typeof spec === "string") throw usage(spec);
    out.array = spec.spec;
  }
  for (const [flag, key] of [["after-ok", "afterOk"], ["after-any", "afterAny"], ["after-not-ok", "afterNotOk"]] as const) {
    const value = flags[flag];
    if (value !== undefined) out[key] = idList(flag, value);
  }
  if (flags.begin !== undefined) {
    const at = parseBegin(flags.begin, nowMs);
    if (typeof at === "string") throw usage(at);
    out.begin = at;
  }
  for (const key of ["hosts", "exclude", "constraint"] as const) {
    const value = flags[key];
    if (value !== undefined) out[key] = nameList(key, value);
  }
  if (flags.exclusive) out.exclusive = true;
  if (flags.hold) out.hold = true;
  return out;
}

/** "12,13 14" → [12, 13, 14]: job (or array) ids for a dependency flag. */
function idList(flag: string, raw: string): number[] {
  const parts = raw.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) throw usage(`--${flag} needs job ids: --${flag} 12,13`);
  return [...new Set(parts.map((p) => Number(jobId(p, `--${flag}`))))];
}

function nameList(flag: string, raw: string): string[] {
  const parts = raw.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) throw usage(`--${flag} needs at least one name`);
  return [...new Set(parts)];
}

const BEGIN_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `--begin`: "+1h", "+30m", "+90s", "+2d" (from now); "22:00" or "22:00:30"
 * (the next such time on this machine's clock, so today or tomorrow, like
 * LSF's -b and Slurm's --begin); "2026-12-24T22:00" or "2026-12-24 22:00"
 * (local time; with Z or an offset, that zone); "now". An absolute time in
 * the past is refused. Returns ms since the epoch, or why it cannot be read.
 */
export function parseBegin(text: string, nowMs: number): number | string {
  const s = text.trim();
  if (s === "now") return nowMs;
  const rel = /^\+(\d+(?:\.\d+)?)([smhd])$/.exec(s);
  if (rel) return Math.round(nowMs + Number(rel[1]) * BEGIN_UNITS[rel[2]!]!);
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(s);
  if (clock) {
    const [h, m, sec] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)];
    if (h > 23 || m > 59 || sec > 59) return `--begin ${s}: not a time of day (HH:MM or HH:MM:SS)`;
    const d = new Date(nowMs);
    d.setHours(h, m, sec, 0);
    if (d.getTime() <= nowMs) d.setDate(d.getDate() + 1);
    return d.getTime();
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2})?)?(Z|[+-]\d{2}:?\d{2})?$/.test(s)) {
    const t = Date.parse(s.includes("T") || !s.includes(" ") ? s : s.replace(" ", "T"));
    if (!Number.isFinite(t)) return `--begin ${s}: not a date and time`;
    if (t < nowMs) return `--begin ${s} is in the past`;
    return t;
  }
  return `--begin takes +1h / +30m / +90s / +2d, HH:MM[:SS], YYYY-MM-DD[THH:MM[:SS]] or now; got "${text}"`;
}

/** A job id: a positive whole number, in its plain spelling ("007" → "7"); or an array element, "ID[INDEX]" (also "ID_INDEX"). */
export function jobId(raw: string, command: string): string {
  const text = raw.trim();
  const el = parseElementRef(text);
  if (el) return `${el.arrayId}[${el.index}]`;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw usage(`${command}: "${raw}" is not a job id (a whole number from 1 up, or ID[INDEX] for an array element)`);
  return String(n);
}

/** A job id as a URL path segment ("1000[7]" has brackets). */
export const jobPath = (id: string): string => `/api/v1/jobs/${encodeURIComponent(id)}`;

/** Job ids from positionals, each once, in the order given. At least one (citty refuses none). */
export function jobIds(raw: readonly string[], command: string): string[] {
  if (raw.length === 0) throw usage(`${command} needs at least one job ID`);
  return [...new Set(raw.map((r) => jobId(r, command)))];
}

export interface JobsFlags {
  state?: string | undefined;
  host?: string | undefined;
  queue?: string | undefined;
  user?: string | undefined;
  limit?: string | undefined;
  array?: string | undefined;
}

/** The query string for GET /api/v1/jobs: `--state` upper-cased and checked against the job states. */
export function jobsQuery(flags: JobsFlags): string {
  const q = new URLSearchParams();
  if (flags.state !== undefined) {
    const states = flags.state.split(",").map((s) => s.trim().toUpperCase());
    const bad = states.filter((s) => !(JOB_STATES as readonly string[]).includes(s));
    if (bad.length > 0 || states.length === 0) {
      throw usage(`--state takes job states separated by commas (${JOB_STATES.join(", ")}); got "${flags.state}"`);
    }
    q.set("state", [...new Set(states as JobState[])].join(","));
  }
  if (flags.array !== undefined) q.set("array", jobId(flags.array, "--array"));
  for (const name of ["host", "queue", "user"] as const) {
    const value = flags[name];
    if (value === undefined) continue;
    if (value.trim() === "") throw usage(`--${name} must not be empty`);
    q.set(name, value);
  }
  if (flags.limit !== undefined) q.set("limit", String(wholeFlag("limit", flags.limit, 1)));
  return q.toString();
}

/** Default polling interval of `lava ctl wait`, ms. */
export const WAIT_INTERVAL_MS = 500;

export interface WaitOptions {
  /** Give up after this long; undefined = wait as long as it takes. */
  timeoutMs: number | undefined;
  intervalMs: number;
}

/** `--timeout SECONDS` (fractions allowed) and `--interval MS` of `lava ctl wait`. */
export function waitOptions(flags: { timeout?: string | undefined; interval?: string | undefined }): WaitOptions {
  let timeoutMs: number | undefined;
  if (flags.timeout !== undefined) {
    const text = flags.timeout.trim();
    const s = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || !(s > 0) || !Number.isFinite(s) || s * 1000 > 2 ** 31) {
      throw usage(`--timeout must be a number of seconds above 0, got "${flags.timeout}"`);
    }
    timeoutMs = Math.max(1, Math.round(s * 1000));
  }
  const intervalMs = flags.interval === undefined ? WAIT_INTERVAL_MS : wholeFlag("interval", flags.interval, 1, 3_600_000, "a whole number of milliseconds");
  return { timeoutMs, intervalMs };
}
