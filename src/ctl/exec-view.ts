/**
 * `lava ctl exec`'s handling of the master's NDJSON answer (docs/api.md
 * "Remote execution"). For people: each output line as it comes, prefixed
 * `host: ` (stderr lines on stderr), then what went wrong per host and a
 * summary, on stderr. For scripts (`--json`): one object per host. Pure:
 * the writers come in.
 */
import { JOB_LIMITS } from "../control/messages.ts";

export interface ExecHostView {
  host: string;
  status: string;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number | null;
  error: string | null;
}

export interface ExecWriters {
  stdout(line: string): void | Promise<void>;
  stderr(line: string): void;
}

/** A line this long without a newline is printed as it is (a binary blob must not be held forever). */
export const PARTIAL_LINE_MAX = 64 * 1024;
/** What --json keeps per host and stream (the master already bounds what it forwards). */
export const JSON_OUTPUT_MAX = JOB_LIMITS.outputBytesMax;

const str = (x: unknown): string | null => (typeof x === "string" ? x : null);
const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

export const hostSucceeded = (r: Pick<ExecHostView, "status" | "exitCode">) => r.status === "ok" && r.exitCode === 0;

/** What went wrong on one host, for people. */
export function describeFailure(r: ExecHostView): string {
  if (r.status === "ok") return r.signal ? `killed by ${r.signal}` : `exit ${r.exitCode ?? "?"}`;
  return r.error ? `${r.status}: ${r.error}` : r.status;
}

export class ExecCollector {
  readonly results: ExecHostView[] = [];
  private readonly partial = new Map<string, string>();
  private readonly captured = new Map<string, { stdout: string; stderr: string; cut: { stdout: boolean; stderr: boolean } }>();
  done: { hosts: number; ok: number; failed: number } | null = null;
  expected: number | null = null;
  /** Hosts whose output the master dropped because this client read too slowly. */
  readonly dropped: string[] = [];

  constructor(
    private readonly json: boolean,
    private readonly out: ExecWriters,
    /** What the stream answers (the summary and the audit action name it): an exec, or a deploy. */
    private readonly what: "exec" | "deploy" = "exec",
  ) {}

  async event(e: Record<string, unknown>): Promise<void> {
    switch (e.type) {
      case "start":
        this.expected = num(e.hosts);
        return;
      case "output": {
        const host = str(e.host) ?? "?";
        const stream = e.stream === "stderr" ? "stderr" : "stdout";
        const data = str(e.data) ?? "";
        if (this.json) this.capture(host, stream, data);
        else await this.print(host, stream, data);
        return;
      }
      case "result": {
        const host = str(e.host) ?? "?";
        if (!this.json) {
          await this.flush(host, "stdout");
          await this.flush(host, "stderr");
        }
        const c = this.captured.get(host);
        this.captured.delete(host);
        const r: ExecHostView = {
          host,
          status: str(e.status) ?? "error",
          exitCode: num(e.exitCode),
          signal: str(e.signal),
          stdout: c?.stdout ?? "",
          stderr: c?.stderr ?? "",
          stdoutTruncated: e.stdoutTruncated === true || (c?.cut.stdout ?? false),
          stderrTruncated: e.stderrTruncated === true || (c?.cut.stderr ?? false),
          durationMs: num(e.durationMs),
          error: str(e.error),
        };
        if ((num(e.droppedBytes) ?? 0) > 0) this.dropped.push(host);
        this.results.push(r);
        if (!this.json && !hostSucceeded(r)) this.out.stderr(`${host}: ${describeFailure(r)}`);
        return;
      }
      case "done":
        this.done = { hosts: num(e.hosts) ?? this.results.length, ok: num(e.ok) ?? 0, failed: num(e.failed) ?? 0 };
        return;
      case "error":
        this.out.stderr(`lava: the master: ${str(e.detail) ?? str(e.error) ?? "failed"}`);
        return;
      default:
        return; // a newer master's line type: nothing to do with it
    }
  }

  /** Every host ran and exited 0, and the master said it was done. */
  get succeeded(): boolean {
    return this.done !== null && this.results.length === this.done.hosts && this.results.every(hostSucceeded);
  }

  /** The one-line summary for people (stderr). */
  summary(): string {
    const ok = this.results.filter(hostSucceeded).length;
    const bad = this.results.length - ok;
    const parts = [`${this.results.length} host${this.results.length === 1 ? "" : "s"}: ${ok} ok`];
    if (bad > 0) parts.push(`${bad} failed`);
    if (this.done === null) parts.push(`the answer ended early (${this.expected === null ? "" : `${this.results.length} of ${this.expected} results; `}see lava ctl audit --action ${this.what}.result)`);
    if (this.dropped.length > 0) parts.push(`output lost in transit on ${this.dropped.length} host(s), this client read too slowly`);
    return `lava: ${this.what} on ${parts.join(", ")}`;
  }

  /** --json: one object per host, sorted by host name. */
  sorted(): ExecHostView[] {
    return [...this.results].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  }

  private capture(host: string, stream: "stdout" | "stderr", data: string): void {
    let c = this.captured.get(host);
    if (!c) this.captured.set(host, (c = { stdout: "", stderr: "", cut: { stdout: false, stderr: false } }));
    const room = JSON_OUTPUT_MAX - c[stream].length;
    if (data.length > room) c.cut[stream] = true;
    if (room > 0) c[stream] += data.slice(0, room);
  }

  private async print(host: string, stream: "stdout" | "stderr", data: string): Promise<void> {
    const k = `${stream}\u0000${host}`;
    let text = (this.partial.get(k) ?? "") + data;
    let nl: number;
    while ((nl = text.indexOf("\n")) >= 0) {
      await this.line(host, stream, text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    while (text.length >= PARTIAL_LINE_MAX) {
      await this.line(host, stream, text.slice(0, PARTIAL_LINE_MAX));
      text = text.slice(PARTIAL_LINE_MAX);
    }
    if (text === "") this.partial.delete(k);
    else this.partial.set(k, text);
  }

  private async flush(host: string, stream: "stdout" | "stderr"): Promise<void> {
    const k = `${stream}\u0000${host}`;
    const rest = this.partial.get(k);
    this.partial.delete(k);
    if (rest !== undefined) await this.line(host, stream, rest);
  }

  private async line(host: string, stream: "stdout" | "stderr", text: string): Promise<void> {
    if (stream === "stdout") await this.out.stdout(`${host}: ${text}`);
    else this.out.stderr(`${host}: ${text}`);
  }
}
