/**
 * The agent's control-channel connection as a state machine: events in
 * (types.ts: start, a connection registered or closed, an announce, a timer
 * fired, stop), actions out (open a connection, close one, arm a timer,
 * log). No socket, no timer, no clock or randomness of its own (all
 * injected), so that tests/agent/connection/ drive it by tables; agent.ts
 * only wires it to openControl, the reporter, timers and the log.
 *
 * Phases (status().state):
 *   idle → connecting → registered → connecting (a drop) → waiting (backoff) → connecting → …
 *   stop from any phase: nothing opens and no timer stays armed afterwards.
 *
 * Reconnecting (backoff.ts): masters from agent.master are tried in turn,
 * the leader named by the latest announce first. After a registered session
 * drops, the first pass waits ~reconnectMin (±20 %); each pass over the
 * whole list that fails adds a backoff round (full jitter, capped at
 * reconnectMax). The round resets once a session stayed registered for
 * 60 s. A master busy admitting other agents (HTTP 503) is asked for its
 * admission wait, and the pass waits at least that long; a 503 from the
 * master named as the leader (announce, not_leader) ends the pass at once
 * (the others would only name it again). A master that closes the channel
 * because it is shutting down (1001) is most often back within seconds:
 * the agent comes back after 0.1–0.6 × reconnectMin, and so for up to 3
 * passes that find it not up yet. A channel that ends without a word (not
 * 1001, not a hand-off) while agent.master lists other masters may be a
 * leader that died (SIGKILL, a crash): another master takes over within
 * about an election timeout (< 1 s by default), so the first such drop
 * after a stable session comes back after a random delay within the
 * follow spread (below), not ~reconnectMin, with the quick retries of a
 * restart for passes that find no leader yet; until the agent registers
 * again that master is tried last, and a follower that still names it as
 * the leader (it has not noticed yet) is not followed there. An announce
 * saying the master forgot this host ends the session and reconnects at
 * once, without waiting (not within forgottenGraceMs of registering: an
 * announce built before our registration may still be on its way).
 *
 * Following the leader (several masters, docs/replication.md): a master
 * that answers `not_leader` names the leader, which is tried at once (3
 * redirects in a row at most, in case masters disagree). A leader that
 * steps down hands its agents off the same way; they reconnect after a
 * random delay within the follow spread, so the new leader sees no storm.
 * An announce from a new leader (only leaders announce) moves the reports
 * to it at once (its live load is then complete within one report
 * interval), and the channel after such a delay. The follow spread is the
 * window the master names in `registered` and its pings (followSpreadMs:
 * sized from the fleet and its admission rate for resumes, so that the
 * whole fleet arrives below that rate), never more than reconnectMin; a
 * master that names none gets reconnectMin.
 *
 * Tokens (docs/security.md): the session token from the last registration
 * is used instead of the join token, kept in the state dir, and refreshed
 * over the channel at half of its remaining life. When the master says it
 * is no longer good (close 4005/4007, upgrade refused 401), it is dropped
 * and, if the connection never registered, the join token is tried at once.
 *
 * Logging: one info/warn line per state change (disconnected, with the
 * reason and the wait; "master unreachable" once until the next
 * registration); each retry only at debug level.
 */
import { formatHostPort, type HostPort } from "../../control/index.ts";
import { reconnectDelayMs, restartDelayMs, RESTART_RETRIES } from "../backoff.ts";
import { MasterBook, sameMaster } from "./masters.ts";
import type { ConnectionAction, ConnectionEvent, ConnectionOptions, ConnectionPhase, ConnectionView, ControlOutcome, Endpoint, LogLevel, TimerName } from "./types.ts";

/** Follower redirects ("not_leader", with the leader's address) followed in a row before the normal backoff. */
export const REDIRECTS_MAX = 3;
/** The close code of a master that is shutting down, most often to restart at once. */
export const CLOSE_GOING_AWAY = 1001;
/**
 * Default of forgottenGraceMs: an announce saying the master forgot this
 * host is ignored this long after registering, above the master's 4 s
 * announce period (one built just before our registration may still be on
 * its way).
 */
export const FORGOTTEN_GRACE_MS = 5_000;
/** Refresh a session token at most this long ahead (a token of days is still refreshed twice a day). */
const REFRESH_MS_MAX = 12 * 3600 * 1000;
/** Never ask for a new session token more often than this. */
const REFRESH_MS_MIN = 1000;

/** The master no longer takes the session token: revoked (4005), its token ended (4007), or the upgrade refused (401). */
export function sessionTokenRefused(o: ControlOutcome): boolean {
  return o.closeCode === 4005 || o.closeCode === 4007 || o.upgradeStatus === 401;
}

interface Attempt {
  id: number;
  master: HostPort;
  /** It carries the session token (not the join token). */
  usedSession: boolean;
  /** now() of its first `registered`, or null. */
  registeredAt: number | null;
  /** A close was asked for already. */
  closing: boolean;
}

/** One pass over the masters, leader hint first. */
interface Pass {
  list: HostPort[];
  index: number;
  failures: string[];
  /** The last master that answered 503 (busy admitting others). */
  busy: HostPort | null;
}

export class ConnectionMachine {
  private readonly opts: ConnectionOptions;
  private readonly book = new MasterBook();
  private phase: ConnectionPhase = "idle";
  private stopping = false;
  private leaderHint: HostPort | null = null;
  /** leaderAddr of the latest accepted announce, as written in it. */
  private lastLeaderAddr: string | null = null;
  private sessionMaster: HostPort | null = null;
  private connecting: HostPort | null = null;
  private hostId: number | null = null;
  private current: Attempt | null = null;
  private nextAttempt = 1;
  private pass: Pass = { list: [], index: 0, failures: [], busy: null };
  /** Backoff round (backoff.ts). */
  private round = 0;
  /** not_leader redirects followed in a row. */
  private redirects = 0;
  /** Quick retries left after a master's clean shutdown. */
  private quick = 0;
  private unreachableLogged = false;
  /** The wait a failed pass chose, while the busy master is asked for its admission wait. */
  private admissionPendingMs: number | null = null;
  private sessionToken: { token: string; expiresAtMs: number } | null = null;
  /** The master whose channel died without a word, while others are listed: tried last, and not followed as a redirect target, until the next registration. */
  private suspect: HostPort | null = null;
  /** now() when the armed retry timer fires (meaningful while "retry" is armed). */
  private retryDueAt = 0;
  /** The follow spread the master named last (kept across sessions: it is needed when one ends), or null. */
  private advisedSpreadMs: number | null = null;
  private registrations = 0;
  private lastProblem: string | null = null;
  private readonly armed = new Set<TimerName>();
  private out: ConnectionAction[] = [];

  constructor(opts: ConnectionOptions) {
    this.opts = opts;
  }

  /** Takes one event; returns what the edges must do, in order. */
  step(ev: ConnectionEvent): ConnectionAction[] {
    this.out = [];
    switch (ev.type) {
      case "start":
        this.start(ev.masters, ev.scheme, ev.keptSessionToken ?? null);
        break;
      case "stop":
        this.stop();
        break;
      case "registered":
        this.registered(ev.attempt, ev.hostId, ev.masters ?? [], ev.sessionToken ?? null);
        if (ev.followSpreadMs !== undefined && this.current?.id === ev.attempt) this.advise(ev.followSpreadMs);
        break;
      case "follow_spread":
        if (this.registeredAttempt(ev.attempt)) this.advise(ev.ms);
        break;
      case "session_token":
        if (this.registeredAttempt(ev.attempt)) this.keepToken({ token: ev.token, expiresAtMs: ev.expiresAtMs });
        break;
      case "closed":
        this.closed(ev.attempt, ev.outcome);
        break;
      case "admission":
        this.admission(ev.delayMs);
        break;
      case "timer":
        this.timer(ev.timer);
        break;
      case "announce":
        this.announce(ev.leaderAddr, ev.membership === "inactive", ev.from, ev.reportTarget);
        break;
    }
    return this.out;
  }

  view(): ConnectionView {
    const c = this.current;
    const settled = this.phase === "registered" || this.phase === "waiting";
    return {
      phase: this.phase,
      stopping: this.stopping,
      master: settled ? this.sessionMaster : (this.connecting ?? this.sessionMaster),
      sessionMaster: this.sessionMaster,
      leaderHint: this.leaderHint,
      lastProblem: this.lastProblem,
      registrations: this.registrations,
      usingSessionToken: this.sessionToken !== null,
      attempt: c ? { id: c.id, master: c.master, registered: c.registeredAt !== null } : null,
    };
  }

  /** The token a connection would carry now (also what downloads from the master carry). */
  token(): string | undefined {
    return this.sessionToken?.token ?? this.opts.joinToken;
  }

  /** Whether an announce naming `leaderAddr` may be followed (masters.ts). */
  trusts(leaderAddr: string): boolean {
    return this.book.trusts(leaderAddr);
  }

  /** Timers armed now (for tests and the edge's bookkeeping). */
  timers(): ReadonlySet<TimerName> {
    return this.armed;
  }

  // ---- lifecycle

  private start(masters: readonly HostPort[], scheme: "http" | "https", kept: string | null): void {
    if (this.phase !== "idle" || this.stopping) throw new Error("connection machine already started");
    this.book.configure(masters, scheme);
    // Its expiry is checked by the master; an expired one is answered 401 and dropped.
    if (kept) this.sessionToken = { token: kept, expiresAtMs: 0 };
    this.newPass();
  }

  private stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.admissionPendingMs = null;
    for (const t of [...this.armed]) this.cancel(t);
  }

  // ---- passes and attempts

  private newPass(): void {
    const list = this.book.candidates(this.leaderHint);
    const s = this.suspect;
    // The master whose channel just died goes last (unless announced as the leader since).
    if (s && !sameMaster(s, this.leaderHint)) list.sort((a, b) => Number(sameMaster(a, s)) - Number(sameMaster(b, s)));
    this.pass = { list, index: 0, failures: [], busy: null };
    this.tryNext();
  }

  private tryNext(): void {
    const m = this.pass.list[this.pass.index];
    if (m === undefined) {
      this.passFailed();
      return;
    }
    this.phase = "connecting";
    this.connecting = m;
    const usedSession = this.sessionToken !== null;
    this.current = { id: this.nextAttempt++, master: m, usedSession, registeredAt: null, closing: false };
    this.log("debug", `connecting to master ${formatHostPort(m)}`);
    this.out.push({ type: "connect", attempt: this.current.id, master: m, token: this.token(), tokenKind: usedSession ? "session" : "join" });
  }

  private registered(attempt: number, hostId: number, masters: readonly string[], token: { token: string; expiresAtMs: number } | null): void {
    const c = this.current;
    if (!c || c.id !== attempt) return;
    c.registeredAt ??= this.opts.now();
    this.hostId = hostId;
    this.book.trustAll(masters);
    if (token) this.keepToken(token);
    this.sessionMaster = c.master;
    this.suspect = null;
    this.registrations++;
    this.phase = "registered";
    if (sameMaster(this.leaderHint, c.master)) this.leaderHint = null;
  }

  private closed(attempt: number, o: ControlOutcome): void {
    const c = this.current;
    if (!c || c.id !== attempt) return;
    this.current = null;
    this.cancel("refresh");
    let retryNow = false;
    if (c.usedSession && sessionTokenRefused(o)) {
      this.dropToken(o.reason);
      // Not registered, and a join token to fall back to: a new pass now, with it.
      retryNow = !o.registered && Boolean(this.opts.joinToken);
    }
    if (this.stopping) return;
    if (o.notLeader !== undefined) {
      const named = this.book.learnt(o.notLeader);
      // A follower that has not noticed the leader's death yet still names it: the pass tries it last anyway.
      if (named && !sameMaster(named, this.suspect)) this.leaderHint = named;
    }
    if (retryNow) {
      this.newPass();
      return;
    }
    if (o.registered) {
      this.sessionEnded(c.master, o);
      return;
    }
    // A follower named the leader: try it first, now, in a new pass (a few times at most, in case they disagree).
    if (o.notLeader && this.leaderHint && this.redirects < REDIRECTS_MAX) {
      this.redirects++;
      this.newPass();
      return;
    }
    const problem = `${formatHostPort(c.master)}: ${o.reason}`;
    this.pass.failures.push(problem);
    const busy = o.upgradeStatus === 503 || o.reason.includes("HTTP 503");
    if (busy) this.pass.busy = c.master;
    this.lastProblem = problem;
    this.log("debug", `cannot register with master ${problem}`);
    if (busy && sameMaster(this.leaderHint, c.master)) {
      // The leader is up, admitting others: the other masters would only send us back to it (not_leader).
      this.passFailed();
      return;
    }
    if (sameMaster(this.leaderHint, c.master)) this.leaderHint = null;
    this.pass.index++;
    this.tryNext();
  }

  /** A registered session ended: how soon to come back depends on why. */
  private sessionEnded(m: HostPort, o: ControlOutcome): void {
    const where = formatHostPort(m);
    this.redirects = 0;
    this.unreachableLogged = false;
    this.quick = 0;
    this.lastProblem = `${where}: ${o.reason}`;
    if (o.registeredMs >= this.opts.stableSessionMs) this.round = 0;
    if (o.closeCode === CLOSE_GOING_AWAY) {
      // The master is stopping, most often to restart at once: come back within seconds, spread out.
      this.quick = RESTART_RETRIES;
      const delayMs = restartDelayMs(this.opts.policy, this.opts.rng);
      this.log("info", `master ${where} is shutting down; reconnecting in ${seconds(delayMs)}`);
      this.wait(delayMs);
      return;
    }
    if (o.reconnectNow) {
      this.log("debug", `left master ${where} (${o.reason}); registering again now`);
      this.newPass();
      return;
    }
    if (o.notLeader !== undefined) {
      // Handed off by a master that stopped leading: every agent of it gets this at once, so spread out.
      const delayMs = Math.round(this.opts.rng() * this.followSpreadMs());
      const next = this.leaderHint ? formatHostPort(this.leaderHint) : "the next master";
      this.log("info", `master ${where} is no longer the leader; registering with ${next} in ${seconds(delayMs)}`);
      this.wait(delayMs);
      return;
    }
    if (this.round === 0 && this.book.candidates(null).some((x) => !sameMaster(x, m))) {
      // Perhaps the leader died: another master leads within about an election timeout, and the whole
      // fleet moves to it at once, so spread out over the follow spread (sized for the new leader's resume
      // admission). Passes that find no leader yet (the election still running) come back within seconds.
      // Only after a stable session (round 0): a master that keeps dropping agents still sees the backoff grow.
      this.round++;
      this.quick = RESTART_RETRIES;
      this.suspect = m;
      const delayMs = Math.round(this.opts.rng() * this.followSpreadMs());
      this.log("warn", `disconnected from master ${where}: ${o.reason}; another master may lead now: registering again in ${seconds(delayMs)}`);
      this.wait(delayMs);
      return;
    }
    const delayMs = reconnectDelayMs(this.round++, this.opts.policy, this.opts.rng);
    this.log("warn", `disconnected from master ${where}: ${o.reason}; reconnecting in ${seconds(delayMs)}`);
    this.wait(delayMs);
  }

  /** Every master of the pass failed. */
  private passFailed(): void {
    this.redirects = 0;
    const delayMs = this.quick > 0 ? (this.quick--, restartDelayMs(this.opts.policy, this.opts.rng)) : reconnectDelayMs(this.round++, this.opts.policy, this.opts.rng);
    if (this.pass.busy) {
      // Honouring Retry-After (design §4), which the WebSocket client cannot read: ask the busy master.
      this.admissionPendingMs = delayMs;
      this.out.push({ type: "ask_admission", master: this.pass.busy, resume: this.sessionToken !== null });
      return;
    }
    this.unreachable(delayMs);
  }

  private admission(askedMs: number): void {
    const delayMs = this.admissionPendingMs;
    if (delayMs === null || this.stopping) return;
    this.admissionPendingMs = null;
    this.unreachable(Math.max(delayMs, askedMs));
  }

  private unreachable(delayMs: number): void {
    const text = `master unreachable (${this.pass.failures.join("; ")}), retrying in ${seconds(delayMs)}`;
    this.log(this.unreachableLogged ? "debug" : "warn", text);
    this.unreachableLogged = true;
    this.wait(delayMs);
  }

  private wait(delayMs: number): void {
    this.phase = "waiting";
    this.connecting = null;
    this.retryDueAt = this.opts.now() + delayMs;
    this.schedule("retry", delayMs);
  }

  // ---- timers

  private timer(t: TimerName): void {
    if (!this.armed.delete(t) || this.stopping) return;
    switch (t) {
      case "retry":
        if (this.phase === "waiting") this.newPass();
        break;
      case "follow":
        this.followFired();
        break;
      case "refresh":
        this.refreshFired();
        break;
    }
  }

  private schedule(t: TimerName, delayMs: number): void {
    this.armed.add(t);
    this.out.push({ type: "schedule", timer: t, delayMs });
  }

  private cancel(t: TimerName): void {
    if (this.armed.delete(t)) this.out.push({ type: "cancel", timer: t });
  }

  // ---- following a new leader

  private announce(leaderAddr: string, forgotten: boolean, from: Endpoint, reportTarget: Endpoint | null): void {
    if (leaderAddr !== this.lastLeaderAddr) {
      this.lastLeaderAddr = leaderAddr;
      const leader = this.book.learnt(leaderAddr);
      if (sameMaster(leader, this.suspect)) this.suspect = null; // it leads (again): not to be avoided
      if (leader && !sameMaster(leader, this.sessionMaster)) {
        this.leaderHint = leader;
        // Only a leader announces, signed with our session key (which every master can derive):
        // its announces come from its report socket, so reports go there at once and its live
        // load is complete within one report interval, long before the channel moves over.
        if (reportTarget && (reportTarget.ip !== from.ip || reportTarget.port !== from.port)) {
          this.out.push({ type: "retarget", to: from });
          this.log("info", `the leader is now ${formatHostPort(leader)}: reports go to ${from.ip}:${from.port}; the control channel follows within ${seconds(this.followSpreadMs())}`);
        }
        this.followLeader();
      }
    }
    const c = this.current;
    if (forgotten && c !== null && c.registeredAt !== null && !c.closing && this.opts.now() - c.registeredAt >= this.opts.forgottenGraceMs) {
      this.log("warn", `master ${formatHostPort(c.master)} no longer lists host id ${this.hostId}; registering again`);
      this.close(c, "the master forgot this host");
    }
  }

  /**
   * A new leader announced itself. The channel moves to it after a random
   * delay within the follow spread: after a failover every agent does this,
   * and the spread keeps the new leader from a reconnect storm.
   */
  private followLeader(): void {
    if (this.armed.has("follow") || this.stopping) return;
    const spreadMs = this.followSpreadMs();
    // A wait that ends within the spread anyway (a dropped channel's, already spread) is not cut short:
    // the next pass tries the leader first, and a second random delay would bunch the fleet's arrivals.
    if (this.phase === "waiting" && this.armed.has("retry") && this.retryDueAt - this.opts.now() < spreadMs) return;
    this.schedule("follow", this.opts.rng() * spreadMs);
  }

  /**
   * The window a move to a new leader is spread over: what the master
   * named (the fleet over its resume admission rate), at most reconnectMin
   * (also what it is when the master named none).
   */
  private followSpreadMs(): number {
    const minMs = Math.max(0, this.opts.policy.minMs);
    return this.advisedSpreadMs === null ? minMs : Math.min(minMs, this.advisedSpreadMs);
  }

  private advise(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.advisedSpreadMs = ms;
  }

  /** A channel still up to the old master is ended; a reconnect that is waiting is woken. */
  private followFired(): void {
    const leader = this.leaderHint;
    if (!leader) return;
    const c = this.current;
    if (c && c.registeredAt !== null && !sameMaster(c.master, leader)) {
      if (!c.closing) this.close(c, `moving to the leader ${formatHostPort(leader)}`);
    } else if (this.phase === "waiting") {
      this.cancel("retry");
      this.newPass();
    }
  }

  private close(c: Attempt, reason: string): void {
    c.closing = true;
    this.out.push({ type: "close", attempt: c.id, reason, reconnectNow: true });
  }

  // ---- session tokens

  private keepToken(t: { token: string; expiresAtMs: number }): void {
    this.sessionToken = t;
    this.out.push({ type: "save_token", token: t.token });
    this.scheduleRefresh();
  }

  private dropToken(why: string): void {
    if (!this.sessionToken) return;
    this.log("info", `dropping the session token (${why}); registering with the join token`);
    this.sessionToken = null;
    this.out.push({ type: "save_token", token: null });
  }

  /** Asks for a new session token at half of the current one's remaining life (at least 1 s from now). */
  private scheduleRefresh(): void {
    this.cancel("refresh");
    if (!this.sessionToken || this.stopping) return;
    const leftMs = this.sessionToken.expiresAtMs - this.opts.wallClock();
    this.schedule("refresh", Math.max(REFRESH_MS_MIN, Math.min(leftMs / 2, REFRESH_MS_MAX)));
  }

  private refreshFired(): void {
    const c = this.current;
    if (!c || c.registeredAt === null) return;
    this.out.push({ type: "send", attempt: c.id, message: { type: "session_refresh" } });
    this.scheduleRefresh();
  }

  // ---- helpers

  /** `attempt` is the current one and registered. */
  private registeredAttempt(attempt: number): boolean {
    return this.current !== null && this.current.id === attempt && this.current.registeredAt !== null;
  }

  private log(level: LogLevel, text: string): void {
    this.out.push({ type: "log", level, text });
  }
}

/** "0.8 s", "12 s": for log lines. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
