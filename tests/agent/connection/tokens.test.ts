/**
 * Session tokens vs the join token (src/agent/connection/machine.ts,
 * docs/security.md): which token a connection carries, keeping and
 * refreshing the session token, and falling back when it is refused.
 */
import { describe, expect, test } from "bun:test";
import type { ConnectionAction } from "../../../src/agent/connection/index.ts";
import { A, B, brief, JOIN, logs, Rig } from "./harness.ts";

const HOUR = 3600_000;
const tokenOf = (acts: ConnectionAction[]) => acts.flatMap((a) => (a.type === "connect" ? [a.token] : []));

describe("which token a connection carries", () => {
  test("the join token when no session token is kept", () => {
    const r = new Rig();
    const acts = r.start([A]);
    expect(brief(acts)).toEqual(["connect m1:6880 join"]);
    expect(tokenOf(acts)).toEqual([JOIN]);
    expect(r.m.view().usingSessionToken).toBe(false);
  });

  test("the session token kept in the state dir, before the join token", () => {
    const r = new Rig();
    const acts = r.start([A], "kept-token");
    expect(brief(acts)).toEqual(["connect m1:6880 session"]);
    expect(tokenOf(acts)).toEqual(["kept-token"]);
    expect(r.m.token()).toBe("kept-token");
  });

  test("the session token of the last registration, on every later connection", () => {
    const r = new Rig();
    r.start([A, B]);
    r.register({ sessionToken: { token: "s1", expiresAtMs: r.wall + HOUR } });
    r.drop(1000);
    const again = r.fire("retry");
    expect(tokenOf(again)).toEqual(["s1"]);
    expect(tokenOf(r.close())).toEqual(["s1"]); // the next master of the pass too
  });
});

describe("keeping and refreshing the session token", () => {
  const rows: { lifeMs: number; refreshMs: number }[] = [
    { lifeMs: HOUR, refreshMs: HOUR / 2 }, // half of the remaining life
    { lifeMs: 48 * HOUR, refreshMs: 12 * HOUR }, // twice a day at least
    { lifeMs: 1500, refreshMs: 1000 }, // never more often than every second
    { lifeMs: -5000, refreshMs: 1000 }, // already expired by our clock
  ];
  for (const { lifeMs, refreshMs } of rows) {
    test(`a token handed out at registration is saved and refreshed at half its remaining life (life ${lifeMs} ms: refresh in ${refreshMs} ms)`, () => {
      const r = new Rig();
      r.start([A]);
      expect(brief(r.register({ sessionToken: { token: "s1", expiresAtMs: r.wall + lifeMs } }))).toEqual(["save_token s1", `schedule refresh ${refreshMs}`]);
      expect(r.m.view().usingSessionToken).toBe(true);
    });
  }

  test("the refresh asks over the registered session and comes again; a refreshed token is saved and moves the refresh", () => {
    const r = new Rig();
    r.start([A]);
    r.register({ sessionToken: { token: "s1", expiresAtMs: r.wall + HOUR } });
    r.wall += HOUR / 2;
    expect(brief(r.fire("refresh"))).toEqual([`send ${r.attempt} session_refresh`, `schedule refresh ${HOUR / 4}`]);
    expect(brief(r.step({ type: "session_token", attempt: r.attempt, token: "s2", expiresAtMs: r.wall + HOUR }))).toEqual(["save_token s2", "cancel refresh", `schedule refresh ${HOUR / 2}`]);
    expect(r.m.token()).toBe("s2");
  });

  test("a session_token from an attempt that is no longer current is not kept", () => {
    const r = new Rig();
    r.start([A]);
    r.register();
    const old = r.attempt;
    r.drop(1000);
    expect(r.step({ type: "session_token", attempt: old, token: "late", expiresAtMs: r.wall + HOUR })).toEqual([]);
    expect(r.m.token()).toBe(JOIN);
  });

  test("the refresh ends with the session", () => {
    const r = new Rig();
    r.start([A]);
    r.register({ sessionToken: { token: "s1", expiresAtMs: r.wall + HOUR } });
    expect(brief(r.drop(1000))).toEqual(["cancel refresh", "schedule retry 10000"]);
    expect(r.m.timers().has("refresh")).toBe(false);
  });
});

describe("a session token the master no longer takes", () => {
  const refusals = [
    { what: "session revoked (close 4005)", outcome: { closeCode: 4005, reason: "closed by the master (code 4005)" } },
    { what: "token ended (close 4007)", outcome: { closeCode: 4007, reason: "closed by the master (code 4007)" } },
    { what: "upgrade refused (HTTP 401)", outcome: { upgradeStatus: 401, reason: "the master refused the token (HTTP 401)" } },
  ];
  for (const { what, outcome } of refusals) {
    test(`${what}: dropped from memory and the state dir, and the join token is tried at once, from the first master`, () => {
      const r = new Rig();
      r.start([A, B], "kept");
      const acts = r.close(outcome);
      expect(brief(acts)).toEqual(["save_token null", "connect m1:6880 join"]);
      expect(logs(acts)).toEqual([`info: dropping the session token (${outcome.reason}); registering with the join token`]);
      expect(tokenOf(acts)).toEqual([JOIN]);
      expect(r.m.view().usingSessionToken).toBe(false);
    });
  }

  test("without a join token to fall back to, the refusal is a failed attempt like any other", () => {
    const r = new Rig({ joinToken: undefined });
    r.start([A, B], "kept");
    const acts = r.close({ upgradeStatus: 401, reason: "the master refused the token (HTTP 401)" });
    expect(brief(acts)).toEqual(["save_token null", "connect m2:6880 join"]);
    expect(tokenOf(acts)).toEqual([undefined]);
  });

  test("a registered session closed with 4005 drops the token and reconnects after the normal backoff", () => {
    const r = new Rig();
    r.start([A], "kept");
    r.register();
    const acts = r.drop(1000, { closeCode: 4005 });
    expect(brief(acts)).toEqual(["save_token null", "schedule retry 10000"]);
    expect(tokenOf(r.fire("retry"))).toEqual([JOIN]);
  });

  test("a refusal of the join token, or another close code, drops nothing", () => {
    const r = new Rig();
    r.start([A, B]);
    expect(brief(r.close({ upgradeStatus: 401, reason: "the master refused the token (HTTP 401)" }))).toEqual(["connect m2:6880 join"]);
    const s = new Rig();
    s.start([A, B], "kept");
    expect(brief(s.close({ closeCode: 4006, reason: "the master refused this host's key" }))).toEqual(["connect m2:6880 session"]);
  });
});
