/**
 * Registers many simulated agents over the control channel (bench/lib/ws.ts),
 * paced at a rate the caller picks (the master admits `wsAdmitPerSec`
 * upgrades per second, 500 by default), honouring `503 Retry-After` for any
 * upgrade the master still turns away. The channels stay open: the caller
 * closes them.
 */
import { randomBytes } from "node:crypto";
import { exportHostKey, generateHostKey, registerProofFields, type HostKey } from "../../src/auth/index.ts";
import { openChannel, type AgentChannel } from "./ws.ts";

export interface AgentIdentity {
  hostname: string;
  /** UDP port the agent's reports come from (`reportPort` in `register`). */
  reportPort: number;
}

export interface AgentSession {
  hostId: number;
  key: Uint8Array;
  channel: AgentChannel;
  reportIntervalMs: number;
  udpPort: number;
}

export function registerMessage(a: AgentIdentity) {
  return {
    type: "register",
    hostname: a.hostname,
    hardware: { ncpus: 8, memBytes: 32 * 2 ** 30, gpus: 0, os: "linux bench" },
    reportPort: a.reportPort,
    version: "bench",
  };
}

/** A host key for a simulated agent (the master refuses a register without one). */
export async function newHostKey(): Promise<HostKey> {
  const pair = await generateHostKey();
  return { privateKey: pair.privateKey, publicRaw: (await exportHostKey(pair)).publicRaw };
}

/** `register` as the agent sends it: signed with the host key, bound to the connection's token. */
export async function signedRegisterMessage(a: AgentIdentity, key: HostKey, token: string) {
  return { ...registerMessage(a), ...(await registerProofFields(key, a.hostname, token, Date.now(), randomBytes(16).toString("base64"))) };
}

export interface RegisterAllOptions {
  host: string;
  port: number;
  token: string;
  agents: readonly AgentIdentity[];
  /** Upgrades started per second. */
  ratePerSec: number;
  /** Give up (throw) if not every agent is registered by then. */
  timeoutMs: number;
  /** Called when agent i's established channel ends. */
  onClose?: (i: number, code: number, reason: string) => void;
  /** Called as each agent registers. */
  onRegistered?: (i: number, s: AgentSession) => void;
}

export interface RegisterAllResult {
  sessions: AgentSession[];
  elapsedMs: number;
  /** Upgrades the master answered 503 (each retried after its Retry-After). */
  rejected503: number;
  /** Attempts that failed otherwise (refused, reset, timed out), each retried. */
  failures: number;
}

export async function registerAll(opts: RegisterAllOptions): Promise<RegisterAllResult> {
  const n = opts.agents.length;
  const sessions: (AgentSession | undefined)[] = new Array(n);
  const t0 = performance.now();
  const deadline = t0 + opts.timeoutMs;
  /** Agents waiting for a slot, with the earliest time they may go. */
  let queue: { i: number; notBeforeMs: number }[] = opts.agents.map((_, i) => ({ i, notBeforeMs: t0 }));
  let inFlight = 0;
  let done = 0;
  let rejected503 = 0;
  let failures = 0;
  let lastError = "";
  let allowance = 0;
  let last = t0;

  const keys: (HostKey | undefined)[] = new Array(n);
  const attempt = async (i: number) => {
    inFlight++;
    const key = (keys[i] ??= await newHostKey());
    const r = await openChannel({
      host: opts.host,
      port: opts.port,
      token: opts.token,
      register: await signedRegisterMessage(opts.agents[i]!, key, opts.token),
      timeoutMs: 10_000,
      onClose: (code, reason) => opts.onClose?.(i, code, reason),
    });
    inFlight--;
    const now = performance.now();
    if (r.kind === "registered") {
      const s: AgentSession = {
        hostId: r.msg.hostId,
        key: new Uint8Array(Buffer.from(r.msg.sessionKey, "base64")),
        channel: r.channel,
        reportIntervalMs: r.msg.reportIntervalMs,
        udpPort: r.msg.udpPort,
      };
      sessions[i] = s;
      done++;
      opts.onRegistered?.(i, s);
    } else if (r.kind === "rejected" && r.status === 503) {
      rejected503++;
      queue.push({ i, notBeforeMs: now + (r.retryAfterS ?? 1) * 1000 });
    } else {
      failures++;
      lastError = r.kind === "rejected" ? `HTTP ${r.status}` : r.error;
      if (r.kind === "rejected" && (r.status === 401 || r.status === 403)) throw new Error(`registration refused: HTTP ${r.status}`);
      queue.push({ i, notBeforeMs: now + 200 });
    }
  };

  const errors: unknown[] = [];
  while (done < n) {
    const now = performance.now();
    if (now > deadline) throw new Error(`registered ${done}/${n} agents in ${opts.timeoutMs} ms (${rejected503} × 503, ${failures} failures, last: ${lastError})`);
    if (errors.length) throw errors[0];
    allowance = Math.min(allowance + ((now - last) / 1000) * opts.ratePerSec, Math.max(1, opts.ratePerSec / 20));
    last = now;
    if (allowance >= 1 && queue.length) {
      const ready: number[] = [];
      const waiting: typeof queue = [];
      for (const q of queue) {
        if (allowance >= 1 && q.notBeforeMs <= now) {
          ready.push(q.i);
          allowance -= 1;
        } else waiting.push(q);
      }
      queue = waiting;
      for (const i of ready) attempt(i).catch((e) => errors.push(e));
    }
    await Bun.sleep(inFlight > 0 || queue.length ? 5 : 1);
  }
  return { sessions: sessions as AgentSession[], elapsedMs: performance.now() - t0, rejected503, failures };
}
