/**
 * Reconnecting (src/agent/connection/machine.ts): passes over the masters,
 * backoff rounds, the quick retries after a master's clean shutdown, and a
 * busy master's admission wait. Pure: a fake clock and a fixed rng.
 */
import { describe, expect, test } from "bun:test";
import { brief, connects, failPass, logs, MAX_MS, MIN_MS, Rig, scheduled, STABLE_MS, A, B, C } from "./harness.ts";

describe("passes over the masters", () => {
  test("the masters of the list are tried in turn; when all failed the pass waits reconnectMin (±20 %) and starts again from the first", () => {
    const r = new Rig();
    expect(brief(r.start([A, B, C]))).toEqual(["connect m1:6880 join"]);
    expect(r.m.view().phase).toBe("connecting");
    expect(brief(r.close())).toEqual(["connect m2:6880 join"]);
    expect(brief(r.close())).toEqual(["connect m3:6880 join"]);
    const last = r.close({ reason: "cannot resolve m3: ENOTFOUND" });
    expect(brief(last)).toEqual([`schedule retry ${MIN_MS}`]);
    expect(logs(last)).toEqual(["warn: master unreachable (m1:6880: Failed to connect; m2:6880: Failed to connect; m3:6880: cannot resolve m3: ENOTFOUND), retrying in 10 s"]);
    expect(r.m.view()).toMatchObject({ phase: "waiting", master: null, lastProblem: "m3:6880: cannot resolve m3: ENOTFOUND" });
    expect(brief(r.fire("retry"))).toEqual(["connect m1:6880 join"]);
  });

  test("each attempt is logged at debug level only, and 'master unreachable' is a warning once until the next registration", () => {
    const r = new Rig();
    r.start([A]);
    const first = r.close();
    expect(logs(first, "debug")).toEqual(["debug: cannot register with master m1:6880: Failed to connect", "warn: master unreachable (m1:6880: Failed to connect), retrying in 10 s"]);
    r.fire("retry");
    expect(logs(r.close())).toEqual([]);
    r.fire("retry");
    r.register();
    r.drop(1000);
    r.fire("retry");
    expect(logs(r.close())[0]).toStartWith("warn: master unreachable");
  });

  test("the status shows the master being tried while connecting, the session's master while registered or waiting", () => {
    const r = new Rig();
    r.start([A, B]);
    expect(r.m.view().master).toEqual(A);
    r.close();
    expect(r.m.view().master).toEqual(B);
    r.register();
    expect(r.m.view()).toMatchObject({ phase: "registered", master: B, sessionMaster: B, registrations: 1 });
    r.drop(1000);
    expect(r.m.view()).toMatchObject({ phase: "waiting", master: B, lastProblem: "m2:6880: connection lost" });
    r.fire("retry");
    expect(r.m.view().master).toEqual(A);
  });

  test("events about an attempt that is no longer the current one change nothing", () => {
    const r = new Rig();
    r.start([A, B]);
    const old = r.attempt;
    r.close();
    expect(r.step({ type: "closed", attempt: old, outcome: { registered: false, registeredMs: 0, reason: "late", reconnectNow: false } })).toEqual([]);
    expect(r.step({ type: "registered", attempt: old, hostId: 7 })).toEqual([]);
    expect(r.m.view()).toMatchObject({ phase: "connecting", registrations: 0, master: B });
  });
});

describe("backoff rounds", () => {
  const rows: { rng: number; delays: number[] }[] = [
    // round 0: reconnectMin ± 20 %; round n: full jitter over min(max, min·2^n).
    { rng: 0.5, delays: [10_000, 10_000, 20_000, 40_000, 80_000, 150_000, 150_000] },
    { rng: 0.999999, delays: [12_000, 20_000, 40_000, 80_000, 160_000, MAX_MS, MAX_MS] },
    { rng: 0, delays: [8_000, 0, 0, 0, 0, 0, 0] },
  ];
  for (const { rng, delays } of rows) {
    test(`each failed pass adds a round, capped at reconnectMax (rng ${rng}: ${delays.join(", ")} ms)`, () => {
      const r = new Rig();
      r.rngValue = rng;
      r.start([A, B]);
      const got: (number | undefined)[] = [];
      for (let i = 0; i < delays.length; i++) {
        got.push(scheduled(failPass(r), "retry"));
        r.fire("retry");
      }
      expect(got).toEqual(delays);
    });
  }

  const sessions: { registeredMs: number; delayMs: number; wait: string }[] = [
    { registeredMs: STABLE_MS - 1, delayMs: 40_000, wait: "40 s" }, // round 3: a master that accepts and drops at once still sees the delays grow
    { registeredMs: STABLE_MS, delayMs: 10_000, wait: "10 s" }, // a stable session: round 0 again
  ];
  for (const { registeredMs, delayMs, wait } of sessions) {
    test(`the round resets only after a session stayed registered for 60 s (registered ${registeredMs} ms: next wait ${delayMs} ms)`, () => {
      const r = new Rig();
      r.start([A]);
      for (let i = 0; i < 3; i++) {
        failPass(r);
        r.fire("retry");
      }
      r.register();
      const dropped = r.drop(registeredMs);
      expect(brief(dropped)).toEqual([`schedule retry ${delayMs}`]);
      expect(logs(dropped)).toEqual([`warn: disconnected from master m1:6880: connection lost; reconnecting in ${wait}`]);
    });
  }
});

describe("a master's clean shutdown (close 1001)", () => {
  test("the agent comes back after 0.1–0.6 × reconnectMin, and so for 3 passes that find it not up yet; then the normal rounds resume", () => {
    const r = new Rig();
    r.start([A, B]);
    r.register();
    const down = r.drop(5000, { closeCode: 1001, reason: 'closed by the master (code 1001 "going away")' });
    // rng 0.5: 0.1 + 0.5 × 0.5 = 0.35 of reconnectMin.
    expect(brief(down)).toEqual(["schedule retry 3500"]);
    expect(logs(down)).toEqual(["info: master m1:6880 is shutting down; reconnecting in 3.5 s"]);
    const waits: (number | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      r.fire("retry");
      waits.push(scheduled(failPass(r), "retry"));
    }
    expect(waits).toEqual([3500, 3500, 3500, 10_000, 10_000]);
  });

  test("a new registration ends the quick retries", () => {
    const r = new Rig();
    r.start([A]);
    r.register();
    r.drop(5000, { closeCode: 1001 });
    r.fire("retry");
    r.register();
    expect(scheduled(r.drop(1000), "retry")).toBe(10_000);
    r.fire("retry");
    expect(scheduled(failPass(r), "retry")).toBe(10_000); // round 1, not a quick retry
  });
});

describe("a busy master (HTTP 503 on the upgrade)", () => {
  const busy = "the master is busy admitting other agents (HTTP 503)";
  const rows: { askedMs: number; waitMs: number }[] = [
    { askedMs: 25_000, waitMs: 25_000 }, // its admission wait is longer than the backoff: honoured
    { askedMs: 9_000, waitMs: 10_000 }, // shorter: the backoff stands
    { askedMs: 0, waitMs: 10_000 }, // it could not tell
  ];
  for (const { askedMs, waitMs } of rows) {
    test(`after a failed pass the busy master is asked for its admission wait, and the pass waits at least that long (asked ${askedMs} ms: waits ${waitMs} ms)`, () => {
      const r = new Rig();
      r.start([A, B]);
      r.close({ reason: busy, upgradeStatus: 503 });
      const end = r.close();
      expect(brief(end)).toEqual(["ask_admission m1:6880"]);
      expect(r.m.view().phase).toBe("connecting");
      const answered = r.step({ type: "admission", delayMs: askedMs });
      expect(brief(answered)).toEqual([`schedule retry ${waitMs}`]);
      expect(logs(answered)[0]).toStartWith(`warn: master unreachable (m1:6880: ${busy}; m2:6880: Failed to connect), retrying in`);
      expect(r.m.view().phase).toBe("waiting");
    });
  }

  test("with a session token it asks for the wait of the resume bucket; an answer nobody waits for is ignored", () => {
    const r = new Rig();
    r.start([A], "kept");
    expect(brief(r.close({ reason: busy }))).toEqual(["ask_admission m1:6880 resume"]);
    r.step({ type: "admission", delayMs: 1 });
    expect(r.step({ type: "admission", delayMs: 99_000 })).toEqual([]);
  });

  test("a 503 from the master announced as the leader ends the pass at once: the others would only name it again", () => {
    const r = new Rig();
    r.start([A, B, C]);
    expect(connects(r.close({ notLeader: "m3:6880", reason: "master is not the leader; the leader is m3:6880" }))).toEqual(["m3:6880"]);
    const end = r.close({ reason: busy, upgradeStatus: 503 });
    expect(brief(end)).toEqual(["ask_admission m3:6880"]);
    expect(brief(r.step({ type: "admission", delayMs: 3000 }))).toEqual(["schedule retry 10000"]);
    expect(r.m.view().leaderHint).toEqual(C); // the next pass starts with it again
    expect(connects(r.fire("retry"))).toEqual(["m3:6880"]);
  });

  test("a 503 from a master not announced as the leader is a failed attempt: the pass goes on", () => {
    const r = new Rig();
    r.start([A, B, C]);
    expect(connects(r.close({ reason: busy, upgradeStatus: 503 }))).toEqual(["m2:6880"]);
  });

  test("the busy master is forgotten with the pass: the next pass that fails otherwise asks nobody", () => {
    const r = new Rig();
    r.start([A]);
    r.close({ reason: busy });
    r.step({ type: "admission", delayMs: 0 });
    r.fire("retry");
    expect(brief(r.close())).toEqual(["schedule retry 10000"]);
  });
});
