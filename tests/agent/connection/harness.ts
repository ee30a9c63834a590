/**
 * Drives the agent's ConnectionMachine for the table tests: a fake clock
 * (monotonic and wall), an rng the test sets, the attempt the machine last
 * opened, and short string forms of its actions so that a test reads like
 * the table of what should happen.
 */
import { formatHostPort, type HostPort } from "../../../src/control/index.ts";
import { ConnectionMachine, type ConnectionAction, type ConnectionEvent, type ConnectionOptions, type ControlOutcome, type TimerName } from "../../../src/agent/connection/index.ts";
import type { Membership } from "../../../src/agent/announce.ts";

export const A: HostPort = { host: "m1", port: 6880, scheme: "http" };
export const B: HostPort = { host: "m2", port: 6880, scheme: "http" };
export const C: HostPort = { host: "m3", port: 6880, scheme: "http" };
/** reconnectMin 10 s, reconnectMax 5 min: the defaults. */
export const MIN_MS = 10_000;
export const MAX_MS = 300_000;
export const STABLE_MS = 60_000;
export const GRACE_MS = 5_000;
export const JOIN = "join-token";
export const HOST_ID = 7;

export class Rig {
  /** Monotonic ms. */
  t = 0;
  /** ms since the epoch. */
  wall = 1_700_000_000_000;
  /** What rng() returns next (one value for all draws unless `rngQueue` has some). */
  rngValue = 0.5;
  readonly rngQueue: number[] = [];
  /** Every action the machine returned, in order. */
  readonly all: ConnectionAction[] = [];
  /** The attempt of the last connect action. */
  attempt = 0;
  readonly m: ConnectionMachine;

  constructor(opts: Partial<ConnectionOptions> = {}) {
    this.m = new ConnectionMachine({
      policy: { minMs: MIN_MS, maxMs: MAX_MS },
      rng: () => this.rngQueue.shift() ?? this.rngValue,
      now: () => this.t,
      wallClock: () => this.wall,
      joinToken: JOIN,
      stableSessionMs: STABLE_MS,
      forgottenGraceMs: GRACE_MS,
      ...opts,
    });
  }

  step(ev: ConnectionEvent): ConnectionAction[] {
    const out = this.m.step(ev);
    this.all.push(...out);
    for (const a of out) if (a.type === "connect") this.attempt = a.attempt;
    return out;
  }

  start(masters: HostPort[] = [A, B], keptSessionToken: string | null = null): ConnectionAction[] {
    return this.step({ type: "start", masters, scheme: "http", keptSessionToken });
  }

  /** The current attempt registered (after `ms` of connecting, if given). */
  register(extra: { masters?: string[]; sessionToken?: { token: string; expiresAtMs: number }; followSpreadMs?: number } = {}): ConnectionAction[] {
    return this.step({ type: "registered", attempt: this.attempt, hostId: HOST_ID, ...extra });
  }

  /** The current attempt ended with `o` (default: refused before registering). */
  close(o: Partial<ControlOutcome> = {}): ConnectionAction[] {
    return this.step({ type: "closed", attempt: this.attempt, outcome: { registered: false, registeredMs: 0, reason: "Failed to connect", reconnectNow: false, ...o } });
  }

  /** A registered session of `ms` ended with `o`. */
  drop(ms: number, o: Partial<ControlOutcome> = {}): ConnectionAction[] {
    this.t += ms;
    return this.close({ registered: true, registeredMs: ms, reason: "connection lost", ...o });
  }

  fire(timer: TimerName): ConnectionAction[] {
    return this.step({ type: "timer", timer });
  }

  announce(leaderAddr: string, membership: Membership = "active", from = { ip: "10.0.0.2", port: 6879 }, reportTarget: { ip: string; port: number } | null = { ip: "10.0.0.1", port: 6879 }): ConnectionAction[] {
    return this.step({ type: "announce", leaderAddr, membership, from, reportTarget });
  }
}

/** Short forms of the actions, logs left out: "connect m1:6880 join", "schedule retry 10000", "close 3 now: reason". */
export function brief(actions: readonly ConnectionAction[]): string[] {
  const out: string[] = [];
  for (const a of actions) {
    switch (a.type) {
      case "connect":
        out.push(`connect ${formatHostPort(a.master)} ${a.tokenKind}`);
        break;
      case "close":
        out.push(`close ${a.attempt}${a.reconnectNow ? " now" : ""}: ${a.reason}`);
        break;
      case "send":
        out.push(`send ${a.attempt} ${a.message.type}`);
        break;
      case "schedule":
        out.push(`schedule ${a.timer} ${Math.round(a.delayMs)}`);
        break;
      case "cancel":
        out.push(`cancel ${a.timer}`);
        break;
      case "ask_admission":
        out.push(`ask_admission ${formatHostPort(a.master)}${a.resume ? " resume" : ""}`);
        break;
      case "save_token":
        out.push(`save_token ${a.token}`);
        break;
      case "retarget":
        out.push(`retarget ${a.to.ip}:${a.to.port}`);
        break;
      case "log":
        break;
    }
  }
  return out;
}

/** The log lines, as "level: text". */
export function logs(actions: readonly ConnectionAction[], minLevel: "debug" | "info" = "info"): string[] {
  return actions.flatMap((a) => (a.type === "log" && (minLevel === "debug" || a.level !== "debug") ? [`${a.level}: ${a.text}`] : []));
}

/** The delay of the `timer` scheduled in `actions` (undefined if none). */
export function scheduled(actions: readonly ConnectionAction[], timer: TimerName): number | undefined {
  const a = actions.find((x) => x.type === "schedule" && x.timer === timer);
  return a?.type === "schedule" ? a.delayMs : undefined;
}

/** The masters connected to in `actions`, "host:port". */
export function connects(actions: readonly ConnectionAction[]): string[] {
  return actions.flatMap((a) => (a.type === "connect" ? [formatHostPort(a.master)] : []));
}

/** Fails every master of a pass (each refused with `reason`); returns all actions of the pass. */
export function failPass(r: Rig, reason = "Failed to connect"): ConnectionAction[] {
  const out: ConnectionAction[] = [];
  for (let i = 0; i < 10; i++) {
    const acts = r.close({ reason });
    out.push(...acts);
    if (!acts.some((a) => a.type === "connect")) return out;
  }
  throw new Error("the pass never ended");
}
