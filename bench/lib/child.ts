/**
 * A helper process spoken to in JSON lines (bench/lib/udp-sink.ts,
 * bench/lib/udp-sender.ts): commands on its stdin, one JSON answer per line
 * on its stdout; stderr is kept for error messages. Always stop() it (the
 * benchmarks do so in finally blocks).
 */
import type { FileSink, Subprocess } from "bun";

/**
 * Every helper process a benchmark started and has not seen exit. The
 * benchmarks stop them in finally blocks; this covers Ctrl-C and SIGTERM,
 * which end the process without running them.
 */
const live = new Set<Subprocess>();
let handlersInstalled = false;

/** Tracks `proc` until it exits, and kills it if the benchmark is interrupted. */
export function trackChild(proc: Subprocess): void {
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      for (const p of live) p.kill("SIGKILL");
      process.exit(130);
    });
  }
}

export class LineChild {
  private lines: string[] = [];
  private waiters: ((line: string | null) => void)[] = [];
  private ended = false;
  stderr = "";

  private constructor(readonly proc: Subprocess<"pipe", "pipe", "pipe">) {
    trackChild(proc);
    void this.readStdout();
    void this.readStderr();
  }

  static spawn(argv: string[], env: Record<string, string | undefined> = process.env): LineChild {
    return new LineChild(Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe", env }));
  }

  get pid(): number {
    return this.proc.pid;
  }

  private async readStdout(): Promise<void> {
    const dec = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of this.proc.stdout) {
        rest += dec.decode(chunk, { stream: true });
        let i: number;
        while ((i = rest.indexOf("\n")) >= 0) {
          const line = rest.slice(0, i);
          rest = rest.slice(i + 1);
          const w = this.waiters.shift();
          if (w) w(line);
          else this.lines.push(line);
        }
      }
    } finally {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
    }
  }

  private async readStderr(): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of this.proc.stderr) this.stderr = (this.stderr + dec.decode(chunk, { stream: true })).slice(-8192);
  }

  /** The next JSON line, parsed; throws if the process ends first or takes longer than timeoutMs. */
  async next<T>(timeoutMs = 60_000): Promise<T> {
    const line = this.lines.shift() ?? (this.ended ? null : await new Promise<string | null>((resolve) => {
      const t = setTimeout(() => {
        const k = this.waiters.indexOf(w);
        if (k >= 0) this.waiters.splice(k, 1);
        resolve(null);
      }, timeoutMs);
      const w = (l: string | null) => {
        clearTimeout(t);
        resolve(l);
      };
      this.waiters.push(w);
    }));
    if (line === null) throw new Error(`helper ${this.proc.pid} gave no answer (exit ${this.proc.exitCode}): ${this.stderr.slice(-2000)}`);
    return JSON.parse(line) as T;
  }

  send(line: string): void {
    const sink = this.proc.stdin as FileSink;
    sink.write(line + "\n");
    sink.flush();
  }

  async request<T>(line: string, timeoutMs?: number): Promise<T> {
    this.send(line);
    return this.next<T>(timeoutMs);
  }

  /** Asks it to quit, then kills it if it has not exited within timeoutMs. */
  async stop(timeoutMs = 2_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try {
      this.send("quit");
      (this.proc.stdin as FileSink).end();
    } catch {
      // stdin already closed
    }
    const t = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    await this.proc.exited;
    clearTimeout(t);
  }
}
