/**
 * stop from any state (src/agent/connection/machine.ts): no timer stays
 * armed, no connection opens afterwards, and late events (the attempt's
 * end, a timer that fired anyway, an admission answer, an announce) change
 * nothing.
 */
import { describe, expect, test } from "bun:test";
import { A, B, brief, failPass, Rig } from "./harness.ts";

const HOUR = 3600_000;

const states: { name: string; reach: (r: Rig) => void; cancels: string[] }[] = [
  { name: "idle", reach: () => {}, cancels: [] },
  { name: "connecting", reach: (r) => r.start([A, B]), cancels: [] },
  {
    name: "registered, with a session token to refresh and a leader to follow",
    reach: (r) => {
      r.start([A, B]);
      r.register({ sessionToken: { token: "s1", expiresAtMs: r.wall + HOUR } });
      r.announce("m2:6880");
    },
    cancels: ["cancel refresh", "cancel follow"],
  },
  {
    name: "waiting (backoff)",
    reach: (r) => {
      r.start([A, B]);
      failPass(r);
    },
    cancels: ["cancel retry"],
  },
  {
    name: "waiting for a busy master's admission wait",
    reach: (r) => {
      r.start([A]);
      r.close({ reason: "the master is busy admitting other agents (HTTP 503)" });
    },
    cancels: [],
  },
];

describe("stop", () => {
  for (const { name, reach, cancels } of states) {
    test(`from ${name}: every timer is cancelled, and nothing opens afterwards`, () => {
      const r = new Rig();
      reach(r);
      const phase = r.m.view().phase;
      expect(brief(r.step({ type: "stop" })).sort()).toEqual([...cancels].sort());
      expect(r.m.timers().size).toBe(0);
      expect(r.m.view()).toMatchObject({ stopping: true, phase });
      // Whatever comes late:
      const late = [
        ...r.close({ reason: "agent stopping" }),
        ...r.fire("retry"),
        ...r.fire("follow"),
        ...r.fire("refresh"),
        ...r.step({ type: "admission", delayMs: 5000 }),
        ...r.announce("m3:6880", "inactive"),
        ...r.step({ type: "stop" }),
      ];
      expect(brief(late).filter((a) => !a.startsWith("retarget"))).toEqual([]);
      expect(r.m.timers().size).toBe(0);
    });
  }

  test("a machine stopped before it started cannot start", () => {
    const r = new Rig();
    r.step({ type: "stop" });
    expect(() => r.start()).toThrow(/already started/);
  });

  test("a session token refused while stopping is still dropped (the state dir must not keep it), but nothing reconnects", () => {
    const r = new Rig();
    r.start([A, B], "kept");
    r.step({ type: "stop" });
    expect(brief(r.close({ closeCode: 4005 }))).toEqual(["save_token null"]);
  });

  test("starting twice is a programming error", () => {
    const r = new Rig();
    r.start();
    expect(() => r.start()).toThrow(/already started/);
  });
});
