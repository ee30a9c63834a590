/**
 * POSTs alert changes to `master.alerts.webhook`. Ingest never waits for
 * it: changes go into a bounded queue (the oldest is dropped when it is
 * full, and counted: the newest state of an alert matters more), and one
 * sender works through it in order, each POST with a timeout, retried with
 * exponential backoff on network errors, 5xx, 408 and 429. Other 4xx are
 * the receiver refusing the payload: not retried.
 */
import { logger } from "../../log/index.ts";

const log = logger("alerts");

export interface WebhookOptions {
  queueMax: number;
  timeoutMs: number;
  /** Tries per payload, the first included. */
  attempts: number;
  backoffMs: number;
  backoffCapMs: number;
}

export const WEBHOOK_DEFAULTS: WebhookOptions = { queueMax: 1000, timeoutMs: 5000, attempts: 5, backoffMs: 1000, backoffCapMs: 30_000 };

export interface WebhookDeps {
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  sleep: (ms: number) => Promise<void>;
}

export interface WebhookCounters {
  sent: number;
  /** Gave up on after every attempt failed, or refused by the receiver (4xx). */
  failed: number;
  /** Pushed out of a full queue. */
  dropped: number;
  retries: number;
}

/** Checks the configured URL at start-up; the message names the key and the fix. */
export function checkWebhookUrl(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol === "http:" || u.protocol === "https:") return null;
    return `master.alerts.webhook: '${url}' is not an http:// or https:// URL`;
  } catch {
    return `master.alerts.webhook: '${url}' is not a URL; give e.g. https://alerts.example.com/lava, or leave it out for no webhook`;
  }
}

export class WebhookSender {
  readonly counters: WebhookCounters = { sent: 0, failed: 0, dropped: 0, retries: 0 };
  private readonly queue: unknown[] = [];
  private running = false;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly deps: WebhookDeps = { fetch: (u, i) => fetch(u, i), sleep: (ms) => Bun.sleep(ms) },
    private readonly opts: WebhookOptions = WEBHOOK_DEFAULTS,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  /** Queues one payload; never blocks. */
  enqueue(payload: unknown): void {
    if (this.stopped) return;
    if (this.queue.length >= this.opts.queueMax) {
      this.queue.shift();
      this.counters.dropped++;
    }
    this.queue.push(payload);
    if (!this.running) {
      this.running = true;
      this.idle = this.work();
    }
  }

  /** Resolves when the queue is empty (tests), or at once when nothing is being sent. */
  drained(): Promise<void> {
    return this.idle;
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private async work(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.stopped) await this.deliver(this.queue.shift());
    } finally {
      this.running = false;
    }
  }

  private async deliver(payload: unknown): Promise<void> {
    const body = JSON.stringify(payload);
    let delay = this.opts.backoffMs;
    for (let attempt = 1; ; attempt++) {
      let why: string;
      let retry = true;
      try {
        const res = await this.deps.fetch(this.url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(this.opts.timeoutMs) });
        await res.body?.cancel().catch(() => {});
        if (res.ok) {
          this.counters.sent++;
          return;
        }
        why = `HTTP ${res.status}`;
        retry = res.status >= 500 || res.status === 408 || res.status === 429;
      } catch (e) {
        why = (e as Error).name === "TimeoutError" ? `no answer within ${this.opts.timeoutMs} ms` : (e as Error).message;
      }
      if (!retry || attempt >= this.opts.attempts || this.stopped) {
        this.counters.failed++;
        log.warn(`alert webhook ${this.url}: ${why}; ${retry ? `gave up after ${attempt} tries` : "the receiver refused it, not retried"}`);
        return;
      }
      this.counters.retries++;
      log.debug(`alert webhook ${this.url}: ${why}; retrying in ${delay} ms`);
      await this.deps.sleep(delay);
      delay = Math.min(this.opts.backoffCapMs, delay * 2);
    }
  }
}
