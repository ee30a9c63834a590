/**
 * HTTP client for the master API (docs/api.md), with failover across the
 * `--master` list (design §8).
 *
 * Each request tries the masters in turn. A master that cannot be reached
 * (refused, reset, unknown name, no answer within the timeout) or answers
 * 5xx is skipped. What the last master answers is final, even a 503: it was
 * reached, so its detail says more than "unreachable". A 4xx is the
 * cluster's answer and is not retried elsewhere. If no master answered at
 * all, the error has exit code 3 and lists what each one did.
 *
 * A write (POST, DELETE) carries a request id (`x-lava-request-id`) that
 * every retry repeats: a retry after an unknown outcome (no answer, a
 * commit timeout, a leader that went away) is answered with the first
 * outcome instead of being applied twice (docs/api.md, "Retries").
 */
import { LavaError } from "../errors.ts";
import { tlsAdvice, type ClientTls } from "../config/index.ts";
import { REQUEST_ID_HEADER } from "../control/http-headers.ts";
import { defaultScheme, formatHostPort, httpUrl, parseHostPort, withScheme, type HostPort, type Scheme } from "../control/address.ts";
import { logger } from "../log/index.ts";
import { VERSION } from "../version.ts";

/** A larger answer is refused rather than buffered (thousands of hosts fit in a few MiB). */
export const ANSWER_BYTES_MAX = 64 * 1024 * 1024;
/** A master may redirect a request to the leader (design §6); more hops than this is a loop. */
export const REDIRECTS_MAX = 3;
/** Between rounds over the masters while they elect a leader. */
const LEADER_WAIT_MS = 200;
/** Least time a master is given to answer after a hold it was asked for (see holding()). */
const HOLD_SLACK_MS = 2000;
/** 503 codes after which a request is sent again: no leader yet, or an outcome the request id makes safe to ask again. */
const RETRIED_CODES: ReadonlySet<string> = new Set(["not_leader", "commit_timeout", "unknown_outcome"]);

const log = logger("ctl");

export interface MasterClientOptions {
  masters: readonly HostPort[];
  /** Sent as `Authorization: Bearer …` when set and not empty. */
  token?: string | undefined;
  /** Per master, for the whole exchange (redirects and body included). */
  timeoutMs: number;
  /** fetch()'s `tls` (ctl.tls); undefined = the system store. */
  tls?: ClientTls | undefined;
  /** For masters written without one, and leaders named by answers; default: https if any master is written https://. */
  scheme?: Scheme;
}

/** The master answered with an error status (4xx, or 503 from the last master). Exit code 1. */
export class MasterError extends LavaError {
  constructor(
    message: string,
    /** HTTP status. */
    readonly status: number,
    /** The answer's short `error` code, if it sent one (e.g. "not_found"). */
    readonly code: string | null,
    /** With "not_leader": the leader's address, when the master knows it. */
    readonly leader: string | null = null,
  ) {
    super(message, "failed");
    this.name = "MasterError";
  }
}

interface Exchange {
  status: number;
  statusText: string;
  /** The body as received; `text` decodes it (once, only when someone asks). */
  bytes: Uint8Array;
  readonly text: string;
}

function exchangeOf(status: number, statusText: string, bytes: Uint8Array): Exchange {
  let text: string | undefined;
  return {
    status,
    statusText,
    bytes,
    get text() {
      return (text ??= new TextDecoder().decode(bytes));
    },
  };
}

class AnswerTooLarge extends Error {}

/**
 * What stream() passes through request() in place of a body: the body, the
 * Accept header, and a timeout that stops at the status line (a streamed
 * answer lasts as long as the command it streams). exchange() leaves a 2xx
 * response here unread.
 */
class StreamRequest {
  response: Response | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  constructor(
    readonly body: unknown,
    readonly accept: string,
  ) {}
  signal(timeoutMs: number): AbortSignal {
    const c = new AbortController();
    this.timer = setTimeout(() => c.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError")), timeoutMs);
    this.timer.unref?.();
    return c.signal;
  }
  headersArrived(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

export class MasterClient {
  /** The configured masters, then leaders that answers named. */
  readonly masters: HostPort[];
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly tls: ClientTls | undefined;
  private readonly scheme: Scheme;
  /** The master that answered last; later requests start there. */
  private preferred = 0;

  constructor(opts: MasterClientOptions) {
    if (opts.masters.length === 0) throw new Error("MasterClient needs at least one master");
    if (!(opts.timeoutMs > 0)) throw new Error(`MasterClient timeoutMs must be positive, got ${opts.timeoutMs}`);
    this.scheme = opts.scheme ?? defaultScheme(opts.masters, false);
    this.masters = opts.masters.map((m) => withScheme(m, this.scheme));
    this.token = opts.token ? opts.token : undefined;
    this.timeoutMs = opts.timeoutMs;
    this.tls = opts.tls;
  }

  /**
   * A client for one other master named by host:port (a member listed by
   * /_raft/health), with this client's token, scheme and TLS options; null
   * if the address is malformed.
   */
  sibling(addr: string, timeoutMs = this.timeoutMs): MasterClient | null {
    const hp = parseHostPort(addr);
    return hp ? new MasterClient({ masters: [hp], token: this.token, timeoutMs, tls: this.tls, scheme: this.scheme }) : null;
  }

  /**
   * This client for one request that the master holds open for up to
   * `holdMs` before it answers (it waits for an agent on our behalf): the
   * timeout is the hold plus the usual allowance, at least HOLD_SLACK_MS,
   * so the master's own answer at the end of the hold never races this
   * client's timeout on a loaded machine.
   */
  holding(holdMs: number): MasterClient {
    const c = new MasterClient({ masters: this.masters, token: this.token, timeoutMs: holdMs + Math.max(this.timeoutMs, HOLD_SLACK_MS), tls: this.tls, scheme: this.scheme });
    c.preferred = this.preferred;
    return c;
  }

  /** One plain GET of `path` on `master` with this client's scheme and TLS, no failover (e.g. /healthz of each master). */
  probe(master: HostPort, path: string, timeoutMs = this.timeoutMs): Promise<Response> {
    return fetch(`${httpUrl(withScheme(master, this.scheme))}${path}`, { tls: this.tls, signal: AbortSignal.timeout(timeoutMs) });
  }

  get(path: string): Promise<unknown> {
    return this.request("GET", path);
  }

  /**
   * The body of a successful GET as the master sent it, not parsed: for
   * `--json` output that passes the master's answer through unchanged,
   * where parsing and re-serialising 10,000 hosts would cost more than
   * everything else ctl does. Errors are handled as for get().
   */
  async getBytes(path: string): Promise<Uint8Array> {
    return (await this.request("GET", path, undefined, true)) as Uint8Array;
  }

  /** With `body` undefined nothing is sent (no content-type either). */
  post(path: string, body?: unknown): Promise<unknown> {
    return this.request("POST", path, body);
  }

  delete(path: string): Promise<unknown> {
    return this.request("DELETE", path);
  }

  /**
   * A streamed answer (NDJSON or text lines: exec, logs, upgrade), tried on
   * the masters in turn as for get(); the timeout covers only the wait for
   * the status line, and a 2xx answer's body is handed over unread. Errors
   * are handled as for get().
   */
  async stream(method: string, path: string, body?: unknown, accept = "application/x-ndjson"): Promise<Response> {
    const streamed = new StreamRequest(body, accept);
    await this.request(method, path, streamed, true);
    if (!streamed.response) throw new LavaError(`the master's answer to ${method} ${path} has no body`, "failed");
    return streamed.response;
  }

  /**
   * Tries the masters in turn. If every master that answered said "no
   * leader right now" (503: an election is under way), the round is tried
   * again after a short wait, within the timeout: a failover is a pause for
   * scripts, not an error. A 503 naming the leader adds it to the list.
   */
  private async request(method: string, path: string, body?: unknown, raw = false): Promise<unknown> {
    const deadline = performance.now() + this.timeoutMs;
    // One id for every attempt of this write (streams, which run commands, carry none: see exchange()).
    const requestId = method !== "GET" && method !== "HEAD" && !(body instanceof StreamRequest) ? crypto.randomUUID() : null;
    for (let round = 0; ; round++) {
      try {
        return await this.round(method, path, body, raw, requestId);
      } catch (e) {
        const retry = e instanceof MasterError && e.status === 503 && e.code !== null && RETRIED_CODES.has(e.code) && (e.code !== "unknown_outcome" || requestId !== null);
        if (!retry || performance.now() + LEADER_WAIT_MS > deadline) throw e;
        if (e.leader) this.preferLeader(e.leader);
        log.debug(`no leader yet (${e.message}); asking again in ${LEADER_WAIT_MS} ms`);
        await Bun.sleep(LEADER_WAIT_MS);
      }
    }
  }

  /** Ask the named leader first from now on (it may not be in --master). */
  private preferLeader(addr: string): void {
    const hp = parseHostPort(addr);
    if (!hp) return;
    const k = formatHostPort(hp);
    let i = this.masters.findIndex((m) => formatHostPort(m) === k);
    if (i < 0) i = this.masters.push(withScheme(hp, this.scheme)) - 1;
    this.preferred = i;
  }

  private async round(method: string, path: string, body: unknown, raw: boolean, requestId: string | null): Promise<unknown> {
    const tried: string[] = [];
    const n = this.masters.length;
    for (let k = 0; k < n; k++) {
      const index = (this.preferred + k) % n;
      const master = this.masters[index]!;
      const addr = formatHostPort(master);
      const last = k === n - 1;
      let answer: Exchange;
      try {
        answer = await this.exchange(master, method, path, body, requestId);
      } catch (error) {
        if (error instanceof AnswerTooLarge) {
          throw new LavaError(`${addr} answered ${method} ${path} with more than ${ANSWER_BYTES_MAX} bytes; refusing it`, "failed");
        }
        const why = this.describeFailure(error, master);
        log.debug(`${addr}: ${why}${last ? "" : "; trying the next master"}`);
        tried.push(`${addr} (${why})`);
        continue;
      }
      if (answer.status >= 500 && !(answer.status === 503 && last)) {
        const why = `HTTP ${answer.status}${detailOf(answer) ? `: ${detailOf(answer)}` : ""}`;
        log.debug(`${addr}: ${why}${last ? "" : "; trying the next master"}`);
        tried.push(`${addr} (${why})`);
        continue;
      }
      this.preferred = index;
      if (raw && answer.status >= 200 && answer.status < 300) return answer.bytes;
      return this.interpret(answer, addr, method, path, tried);
    }
    throw new LavaError(
      `no master reachable: tried ${tried.join(", ")}. Check --master (or LAVA_MASTER, ctl.master) and that a master is running there.`,
      "unreachable",
    );
  }

  private async exchange(master: HostPort, method: string, path: string, body: unknown, requestId: string | null): Promise<Exchange> {
    const streamed = body instanceof StreamRequest ? body : null;
    if (streamed) body = streamed.body;
    const signal = streamed ? streamed.signal(this.timeoutMs) : AbortSignal.timeout(this.timeoutMs);
    const headers: Record<string, string> = { accept: streamed?.accept ?? "application/json", "user-agent": `lava-ctl/${VERSION}` };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (requestId) headers[REQUEST_ID_HEADER] = requestId;
    let payload: string | undefined;
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let url = `${httpUrl(master)}${path}`;
    for (let hop = 0; ; hop++) {
      // Redirects are followed here, not by fetch, so that the token goes
      // along to the leader (fetch drops Authorization across origins).
      const res = await fetch(url, { method, headers, body: payload, signal, redirect: "manual", tls: this.tls });
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location && hop < REDIRECTS_MAX) {
        await res.body?.cancel();
        const next = new URL(location, url);
        if (next.protocol !== "http:" && next.protocol !== "https:") break;
        url = next.toString();
        if (res.status === 303) {
          method = "GET";
          payload = undefined;
          delete headers["content-type"];
        }
        continue;
      }
      if (streamed) {
        streamed.headersArrived();
        if (res.status >= 200 && res.status < 300) {
          streamed.response = res;
          return exchangeOf(res.status, res.statusText, new Uint8Array(0));
        }
      }
      return exchangeOf(res.status, res.statusText, await readBounded(res));
    }
    throw new TypeError(`redirected to a non-HTTP location from ${url}`);
  }

  private describeFailure(error: unknown, master: HostPort): string {
    const e = error as { code?: unknown; message?: unknown } | null;
    const why = this.failureText(error);
    const advice = tlsAdvice(master.scheme ?? "http", `${typeof e?.code === "string" ? e.code : ""} ${typeof e?.message === "string" ? e.message : ""} ${why}`, "ctl.tls.ca (env LAVA_TLS_CA)");
    return advice ? `${why}; ${advice}` : why;
  }

  private failureText(error: unknown): string {
    const e = error as { name?: unknown; code?: unknown; message?: unknown } | null;
    if (e?.name === "TimeoutError") return `no answer within ${+(this.timeoutMs / 1000).toFixed(3)} s`;
    switch (e?.code) {
      case "ECONNREFUSED":
      case "ConnectionRefused":
        return "connection refused";
      case "ENOTFOUND":
        return "unknown host name";
      case "ECONNRESET":
      case "ConnectionClosed":
        return "connection closed";
      case "EHOSTUNREACH":
      case "ENETUNREACH":
        return "network unreachable";
    }
    if (typeof e?.code === "string") return e.code;
    return typeof e?.message === "string" ? e.message : String(error);
  }

  private interpret(answer: Exchange, addr: string, method: string, path: string, tried: string[]): unknown {
    if (answer.status >= 200 && answer.status < 300) {
      if (answer.text.trim() === "") return null;
      try {
        return JSON.parse(answer.text);
      } catch {
        throw new LavaError(`${addr} answered ${method} ${path} with something that is not JSON: is ${addr} a lava master's HTTP port?`, "failed");
      }
    }
    const body = parseErrorBody(answer.text);
    const detail = body.detail ?? body.error ?? `HTTP ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ""}`;
    let message = detail;
    if (answer.status === 401) {
      message += this.token
        ? " (the master refused the token: check --token, LAVA_TOKEN or ctl.token)"
        : " (no token given: pass --token or set LAVA_TOKEN; a master writes an admin token to <data-dir>/admin.token)";
    } else if (answer.status === 403 && body.error === "forbidden" && /\brole\b/.test(detail)) {
      // Only a role refusal: a policy refusal ("refused", a queue's users) already says which rule refused it.
      message += " (the token's role does not allow this: queries need a read or admin token, changes an admin token)";
    } else if (answer.status >= 500) {
      message += ` (HTTP ${answer.status} from ${addr}${tried.length ? `; also tried ${tried.join(", ")}` : ""})`;
    } else if (answer.status >= 300 && answer.status < 400) {
      message = `${addr} answered ${method} ${path} with HTTP ${answer.status} (too many redirects?)`;
    }
    throw new MasterError(message, answer.status, body.error ?? null, body.leader ?? null);
  }
}

function parseErrorBody(text: string): { error?: string; detail?: string; leader?: string } {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return {};
    const { error, detail, leader } = parsed as Record<string, unknown>;
    return {
      ...(typeof error === "string" && error ? { error } : {}),
      ...(typeof detail === "string" && detail ? { detail } : {}),
      ...(typeof leader === "string" && leader ? { leader } : {}),
    };
  } catch {
    return {};
  }
}

function detailOf(answer: Exchange): string | undefined {
  const body = parseErrorBody(answer.text);
  return body.detail ?? body.error;
}

/** The body as text, refusing more than ANSWER_BYTES_MAX. */
async function readBounded(res: Response): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > ANSWER_BYTES_MAX) {
    await res.body?.cancel();
    throw new AnswerTooLarge();
  }
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > ANSWER_BYTES_MAX) {
      await reader.cancel();
      throw new AnswerTooLarge();
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
