/**
 * The connection machine under random event sequences (one seed replays a
 * run): whatever happens, at most one connection is open, a timer is armed
 * exactly when the machine says so, every wait stays in its bounds, the
 * phase matches the timers, and nothing opens or arms after stop.
 */
import { describe, expect, test } from "bun:test";
import type { ConnectionAction, ControlOutcome, TimerName } from "../../../src/agent/connection/index.ts";
import { seededRng } from "../../helpers/rng.ts";
import { A, B, C, MAX_MS, MIN_MS, Rig } from "./harness.ts";

const SEEDS = 300;
const STEPS = 200;
const REFRESH_MS_MAX = 12 * 3600_000;

function run(seed: number): void {
  const pick = seededRng(seed);
  const machineRng = seededRng(seed ^ 0x5eed);
  const r = new Rig({ rng: machineRng });
  const one = <T>(xs: readonly T[]): T => xs[Math.floor(pick() * xs.length)]!;
  const armed = new Set<TimerName>();
  /** The attempt the machine opened and the run has not closed yet (a holder: check() sets it). */
  const live: { open: { id: number; registered: boolean } | null } = { open: null };
  let askedAdmission = false;
  let stopped = false;
  let registrations = 0;

  const check = (what: string, acts: ConnectionAction[], closing: number | null) => {
    const where = `seed ${seed}, ${what}`;
    for (const a of acts) {
      switch (a.type) {
        case "connect":
          if (stopped) throw new Error(`${where}: connect after stop`);
          if (live.open !== null && live.open.id !== closing) throw new Error(`${where}: attempt ${a.attempt} opened while ${live.open.id} is open`);
          live.open = { id: a.attempt, registered: false };
          break;
        case "schedule": {
          if (stopped) throw new Error(`${where}: ${a.timer} armed after stop`);
          const max = a.timer === "retry" ? MAX_MS : a.timer === "follow" ? MIN_MS : REFRESH_MS_MAX;
          const min = a.timer === "refresh" ? 1000 : 0;
          if (!(a.delayMs >= min && a.delayMs <= max)) throw new Error(`${where}: ${a.timer} in ${a.delayMs} ms`);
          armed.add(a.timer);
          break;
        }
        case "cancel":
          if (!armed.delete(a.timer)) throw new Error(`${where}: cancel of ${a.timer}, which is not armed`);
          break;
        case "ask_admission":
          askedAdmission = true;
          break;
        case "close":
        case "send":
          if (live.open === null || live.open.id !== a.attempt) throw new Error(`${where}: ${a.type} for attempt ${a.attempt}, not the open one`);
          break;
      }
    }
    expect([...r.m.timers()].sort()).toEqual([...armed].sort());
    const v = r.m.view();
    if (!v.stopping && !askedAdmission) expect(v.phase === "waiting").toBe(armed.has("retry"));
    if (stopped) expect(armed.size).toBe(0);
    expect(v.registrations).toBe(registrations);
  };

  check("start", r.start(one([[A], [A, B], [A, B, C]]), pick() < 0.3 ? "kept" : null), null);
  for (let i = 0; i < STEPS; i++) {
    r.t += Math.floor(pick() * 20_000);
    r.wall += Math.floor(pick() * 20_000);
    const roll = pick();
    const o = live.open;
    if (o && roll < 0.3) {
      const outcome: ControlOutcome = {
        registered: o.registered,
        registeredMs: o.registered ? Math.floor(pick() * 120_000) : 0,
        reason: one(["connection lost", "Failed to connect", "the master is busy admitting other agents (HTTP 503)"]),
        reconnectNow: pick() < 0.2,
      };
      const closeCode = one([undefined, undefined, 1001, 4005, 4007]);
      if (closeCode !== undefined) outcome.closeCode = closeCode;
      if (pick() < 0.1) outcome.upgradeStatus = 401;
      const nl = one([undefined, undefined, undefined, "", "m1:6880", "m2:6880", "m9:1"]);
      if (nl !== undefined) outcome.notLeader = nl;
      live.open = null;
      check(`closed ${o.id}`, r.step({ type: "closed", attempt: o.id, outcome }), o.id);
    } else if (o && roll < 0.45) {
      o.registered = true;
      registrations++;
      check("registered", r.register(pick() < 0.5 ? { sessionToken: { token: `t${i}`, expiresAtMs: r.wall + Math.floor(pick() * 7_200_000) } } : {}), null);
    } else if (armed.size > 0 && roll < 0.65) {
      const t = one([...armed]);
      armed.delete(t);
      check(`timer ${t}`, r.fire(t), null);
    } else if (askedAdmission && roll < 0.75) {
      askedAdmission = false;
      check("admission", r.step({ type: "admission", delayMs: Math.floor(pick() * 60_000) }), null);
    } else if (roll < 0.9) {
      check("announce", r.announce(one(["m1:6880", "m2:6880", "m3:6880", "m9:1"]), one(["active", "inactive", "outside"] as const)), null);
    } else if (o && o.registered && roll < 0.95) {
      check("session_token", r.step({ type: "session_token", attempt: o.id, token: `r${i}`, expiresAtMs: r.wall + 3_600_000 }), null);
    } else if (roll < 0.97) {
      check("stale closed", r.step({ type: "closed", attempt: -1, outcome: { registered: true, registeredMs: 1, reason: "stale", reconnectNow: true } }), null);
    } else if (!stopped && roll < 0.985) {
      stopped = true;
      askedAdmission = false;
      check("stop", r.step({ type: "stop" }), null);
    }
  }
}

describe("the connection machine under random events", () => {
  test(`${SEEDS} seeds × ${STEPS} events: one connection at most, timers as announced and in bounds, phase waiting exactly while a retry is armed, nothing after stop`, () => {
    for (let seed = 1; seed <= SEEDS; seed++) run(seed);
  });

  test("the run is the same for the same seed", () => {
    const trace = (seed: number) => {
      const r = new Rig({ rng: seededRng(seed) });
      r.start([A, B, C]);
      for (let i = 0; i < 6; i++) {
        r.close({ reason: "Failed to connect" });
        if (r.m.timers().has("retry")) r.fire("retry");
      }
      return JSON.stringify(r.all);
    };
    expect(trace(9)).toBe(trace(9));
    expect(trace(9)).not.toBe(trace(10));
  });
});
