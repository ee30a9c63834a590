/**
 * Following the leader (src/agent/connection/machine.ts, docs/replication.md):
 * not_leader redirects, hand-offs by a master that stops leading, announces
 * from a new leader, a master that forgot this host, and which masters'
 * announces are followed at all.
 */
import { describe, expect, test } from "bun:test";
import { formatHostPort } from "../../../src/control/index.ts";
import { A, B, brief, C, connects, failPass, GRACE_MS, logs, MIN_MS, Rig, scheduled } from "./harness.ts";

const notLeader = (leader: string) => ({ notLeader: leader, reason: `master is not the leader${leader ? `; the leader is ${leader}` : ""}` });

describe("not_leader redirects", () => {
  test("a follower that names the leader sends the agent there at once, in a new pass that tries the leader first", () => {
    const r = new Rig();
    r.start([A, B, C]);
    expect(brief(r.close(notLeader("m3:6880")))).toEqual(["connect m3:6880 join"]);
    expect(r.m.view().leaderHint).toEqual(C);
    expect(brief(r.close())).toEqual(["connect m1:6880 join"]); // the leader failed: the configured order, hint dropped
    expect(r.m.view().leaderHint).toBe(null);
  });

  test("redirects are followed 3 times in a row at most (masters may disagree); the fourth goes on with the pass in order", () => {
    const r = new Rig();
    r.start([A, B, C]);
    const hops = [r.close(notLeader("m2:6880")), r.close(notLeader("m3:6880")), r.close(notLeader("m1:6880")), r.close(notLeader("m3:6880"))];
    // The third redirect started the pass [m1, m2, m3]; the fourth is a failure of m1, so m2 comes next, not m3.
    expect(hops.map(connects)).toEqual([["m2:6880"], ["m3:6880"], ["m1:6880"], ["m2:6880"]]);
    r.close();
    expect(brief(r.close())).toEqual(["schedule retry 10000"]);
    // The count starts again after a pass that was not redirected.
    r.fire("retry");
    expect(connects(r.close(notLeader("m3:6880")))).toEqual(["m3:6880"]); // followed, not m2 (the next of the pass)
  });

  test("a registration also starts the count of redirects again", () => {
    const r = new Rig();
    r.start([A, B, C]);
    r.close(notLeader("m2:6880"));
    r.close(notLeader("m3:6880"));
    r.close(notLeader("m1:6880"));
    r.register();
    r.drop(1000);
    r.fire("retry");
    expect(connects(r.close(notLeader("m3:6880")))).toEqual(["m3:6880"]);
  });

  test("a not_leader that names no leader is a failed attempt: the next master is tried", () => {
    const r = new Rig();
    r.start([A, B]);
    expect(brief(r.close(notLeader("")))).toEqual(["connect m2:6880 join"]);
    expect(r.m.view().leaderHint).toBe(null);
  });

  const handoffs: { rng: number; waitMs: number }[] = [
    { rng: 0, waitMs: 0 },
    { rng: 0.3, waitMs: 3000 },
    { rng: 0.999, waitMs: 9990 },
  ];
  for (const { rng, waitMs } of handoffs) {
    test(`a leader that steps down hands its agents off: each waits a random part of reconnectMin (${waitMs} ms), then tries the named leader first`, () => {
      const r = new Rig();
      r.start([A, B]);
      r.register();
      r.rngValue = rng;
      const off = r.drop(30_000, notLeader("m2:6880"));
      expect(brief(off)).toEqual([`schedule retry ${waitMs}`]);
      expect(logs(off)).toEqual([`info: master m1:6880 is no longer the leader; registering with m2:6880 in ${(waitMs / 1000).toFixed(1)} s`]);
      expect(brief(r.fire("retry"))).toEqual(["connect m2:6880 join"]);
      r.register();
      expect(r.m.view()).toMatchObject({ master: B, leaderHint: null, registrations: 2 });
    });
  }
});

describe("announces from a new leader", () => {
  test("reports move to the new leader's report socket at once; the channel follows after a random delay of up to reconnectMin", () => {
    const r = new Rig();
    r.start([A, B]);
    r.register();
    const ann = r.announce("m2:6880");
    expect(brief(ann)).toEqual(["retarget 10.0.0.2:6879", `schedule follow ${MIN_MS / 2}`]);
    expect(logs(ann)).toEqual(["info: the leader is now m2:6880: reports go to 10.0.0.2:6879; the control channel follows within 10 s"]);
    expect(r.m.view()).toMatchObject({ phase: "registered", leaderHint: B }); // a working session is not dropped at once
    const moved = r.fire("follow");
    expect(brief(moved)).toEqual([`close ${r.attempt} now: moving to the leader m2:6880`]);
    expect(brief(r.drop(1000, { reconnectNow: true, reason: "moving to the leader m2:6880" }))).toEqual(["connect m2:6880 join"]);
    r.register();
    expect(r.m.view()).toMatchObject({ master: B, leaderHint: null });
  });

  test("an announce naming the leader seen last, or the session's own master, changes nothing", () => {
    const r = new Rig();
    r.start([A, B]);
    r.register();
    expect(r.announce("m1:6880")).toEqual([]);
    r.announce("m2:6880");
    expect(r.announce("m2:6880")).toEqual([]);
    expect(r.m.view().leaderHint).toEqual(B);
  });

  test("reports are not retargeted when they already go where the announce came from; one follow delay at a time", () => {
    const r = new Rig();
    r.start([A, B, C]);
    r.register();
    const here = { ip: "10.0.0.1", port: 6879 };
    expect(brief(r.announce("m2:6880", "active", here, here))).toEqual(["schedule follow 5000"]);
    expect(brief(r.announce("m3:6880", "active", here, here))).toEqual([]);
    expect(r.m.view().leaderHint).toEqual(C);
    expect(brief(r.fire("follow"))).toEqual([`close ${r.attempt} now: moving to the leader m3:6880`]);
  });

  test("when the follow delay ends during a backoff wait, the wait is cut short and the leader is tried at once", () => {
    const r = new Rig();
    r.start([A, B]);
    failPass(r);
    expect(brief(r.announce("m3:6880", "active", { ip: "10.0.0.3", port: 6879 }, null))).toEqual(["schedule follow 5000"]);
    expect(brief(r.fire("follow"))).toEqual(["cancel retry", "connect m3:6880 join"]);
  });

  test("when the follow delay ends while connecting, nothing happens (the pass tries the leader first anyway)", () => {
    const r = new Rig();
    r.start([A, B]);
    r.register();
    r.announce("m2:6880");
    expect(connects(r.drop(1000, { reconnectNow: true }))).toEqual(["m2:6880"]);
    expect(r.fire("follow")).toEqual([]);
  });

  test("when the follow delay ends and the session is with the leader already, nothing happens", () => {
    const r = new Rig();
    r.start([A, B]);
    r.register();
    r.announce("m2:6880");
    r.drop(1000, { reconnectNow: true });
    r.register();
    expect(r.m.view().master).toEqual(B);
    expect(r.fire("follow")).toEqual([]);
  });
});

describe("a master that forgot this host", () => {
  const rows: { membership: "active" | "inactive" | "outside"; afterMs: number; closes: boolean }[] = [
    { membership: "inactive", afterMs: GRACE_MS, closes: true },
    { membership: "inactive", afterMs: GRACE_MS - 1, closes: false }, // an announce built before our registration may still be on its way
    { membership: "active", afterMs: 60_000, closes: false },
    { membership: "outside", afterMs: 60_000, closes: false },
  ];
  for (const { membership, afterMs, closes } of rows) {
    test(`an announce with our id ${membership} ${afterMs} ms after registering ${closes ? "ends the session and registers again at once" : "changes nothing"}`, () => {
      const r = new Rig();
      r.start([A, B]);
      r.register();
      r.t += afterMs;
      const ann = r.announce("m1:6880", membership);
      if (!closes) {
        expect(ann).toEqual([]);
        return;
      }
      expect(brief(ann)).toEqual([`close ${r.attempt} now: the master forgot this host`]);
      expect(logs(ann)).toEqual(["warn: master m1:6880 no longer lists host id 7; registering again"]);
      expect(r.announce("m1:6880", membership)).toEqual([]); // one close is enough
      const again = r.close({ registered: true, registeredMs: afterMs, reconnectNow: true, reason: "the master forgot this host" });
      expect(brief(again)).toEqual(["connect m1:6880 join"]);
      expect(logs(again, "debug")).toContain("debug: left master m1:6880 (the master forgot this host); registering again now");
    });
  }

  test("without a registered session an inactive bit closes nothing", () => {
    const r = new Rig();
    r.start([A]);
    r.t += 60_000;
    expect(brief(r.announce("m1:6880", "inactive")).filter((a) => a.startsWith("close"))).toEqual([]);
  });

  test("registering again at once uses no backoff round", () => {
    const r = new Rig();
    r.start([A]);
    r.register();
    r.t += GRACE_MS;
    r.announce("m1:6880", "inactive");
    r.close({ registered: true, registeredMs: GRACE_MS, reconnectNow: true });
    r.register();
    expect(scheduled(r.drop(1000), "retry")).toBe(10_000);
  });
});

describe("whose announces are followed", () => {
  test("the masters of the configured list (by host:port, any case) and those a master named in `registered`; no others", () => {
    const r = new Rig();
    r.start([A, B]);
    expect(r.m.trusts("m1:6880")).toBe(true);
    expect(r.m.trusts("M2:6880")).toBe(true);
    expect(r.m.trusts(formatHostPort(C))).toBe(false);
    expect(r.m.trusts("m1:6881")).toBe(false);
    expect(r.m.trusts("not an address:x")).toBe(false);
    r.register({ masters: ["m1:6880", "m2:6880", "m3:6880"] });
    expect(r.m.trusts("m3:6880")).toBe(true);
  });
});

describe("the follow spread the master names (followSpreadMs in `registered` and pings)", () => {
  test("named in `registered`, it is the window of a move to a new leader", () => {
    const r = new Rig();
    r.start([A, B]);
    r.register({ followSpreadMs: 4000 });
    expect(brief(r.announce("m2:6880"))).toEqual(["retarget 10.0.0.2:6879", "schedule follow 2000"]);
  });

  test("a ping's value replaces it; one for another attempt, or before registering, is ignored", () => {
    const r = new Rig();
    r.start([A, B]);
    r.step({ type: "follow_spread", attempt: r.attempt, ms: 1000 }); // not registered yet
    r.register({ followSpreadMs: 4000 });
    r.step({ type: "follow_spread", attempt: r.attempt + 1, ms: 1000 });
    r.step({ type: "follow_spread", attempt: r.attempt, ms: 6000 });
    expect(scheduled(r.announce("m2:6880"), "follow")).toBe(3000);
  });

  test("never more than reconnectMin, whatever the master says; nonsense is ignored", () => {
    const r = new Rig();
    r.start([A, B, C]);
    r.register({ followSpreadMs: 60_000 });
    expect(scheduled(r.announce("m2:6880"), "follow")).toBe(MIN_MS / 2);
    r.step({ type: "follow_spread", attempt: r.attempt, ms: Number.NaN });
    r.step({ type: "follow_spread", attempt: r.attempt, ms: -1 });
    r.fire("follow");
    r.drop(1000, { reconnectNow: true });
    r.register();
    expect(scheduled(r.announce("m3:6880"), "follow")).toBe(MIN_MS / 2);
  });
});

describe("a leader that dies (the channel ends without a word, other masters listed)", () => {
  const died = { reason: "connection lost" };
  /** Registered with m1 of [m1, m2, m3] (follow spread 6250 ms) for a stable session, which then dies. */
  const diedAfterStable = (rng = 0.5) => {
    const r = new Rig();
    r.start([A, B, C]);
    r.register({ followSpreadMs: 6250 });
    r.rngValue = rng;
    return { r, off: r.drop(60_000, died) };
  };

  test("after a stable session the agent comes back within the follow spread, and tries that master last", () => {
    const { r, off } = diedAfterStable(0.3);
    expect(brief(off)).toEqual(["schedule retry 1875"]);
    expect(logs(off)).toEqual(["warn: disconnected from master m1:6880: connection lost; another master may lead now: registering again in 1.9 s"]);
    expect(brief(r.fire("retry"))).toEqual(["connect m2:6880 join"]);
    expect(brief(r.close(notLeader("m3:6880")))).toEqual(["connect m3:6880 join"]); // elected already: redirected to it
    r.register();
    expect(r.m.view()).toMatchObject({ master: C, leaderHint: null });
  });

  test("during the election: a follower that still names the dead master is not followed there; a pass that finds no leader comes back within seconds", () => {
    const { r } = diedAfterStable(0);
    r.fire("retry");
    expect(connects(r.close(notLeader("m1:6880")))).toEqual(["m3:6880"]); // the pass goes on
    expect(connects(r.close(notLeader("")))).toEqual(["m1:6880"]); // the dead master last
    r.rngValue = 0.3;
    expect(brief(r.close())).toEqual(["schedule retry 2500"]); // a quick retry: 0.1–0.6 × reconnectMin, not a backoff round
    expect(connects(r.fire("retry"))).toEqual(["m2:6880"]);
  });

  test("a drop soon after the last one (not a stable session) backs off as usual: a master that keeps dropping agents sees the delays grow", () => {
    const { r } = diedAfterStable();
    r.fire("retry");
    r.register();
    const again = r.drop(5_000, died);
    expect(scheduled(again, "retry")).toBe(10_000); // round 1, rng 0.5: half of 2 × reconnectMin
    expect(logs(again)[0]).toStartWith("warn: disconnected from master m2:6880: connection lost; reconnecting in");
  });

  test("with one master listed, the drop waits ~reconnectMin as before (nobody else can take over)", () => {
    const r = new Rig();
    r.start([A]);
    r.register({ followSpreadMs: 6250 });
    expect(scheduled(r.drop(60_000, died), "retry")).toBe(10_000);
  });

  test("an announce from the new leader during the wait: no second random delay (the arrivals stay spread); the pass tries it first", () => {
    const { r } = diedAfterStable();
    const ann = r.announce("m3:6880", "active", { ip: "10.0.0.3", port: 6879 });
    expect(brief(ann)).toEqual(["retarget 10.0.0.3:6879"]);
    expect(connects(r.fire("retry"))).toEqual(["m3:6880"]);
  });

  test("an announce naming the dropped master as the leader (it came back): it is not avoided any more", () => {
    const { r } = diedAfterStable();
    r.announce("m1:6880");
    expect(connects(r.fire("retry"))).toEqual(["m1:6880"]);
  });

  test("a clean shutdown (1001) and a hand-off keep their own waits", () => {
    const r = new Rig();
    r.start([A, B, C]);
    r.register({ followSpreadMs: 6250 });
    r.rngValue = 0;
    expect(scheduled(r.drop(60_000, { closeCode: 1001, reason: "going away" }), "retry")).toBe(1000);
    expect(connects(r.fire("retry"))).toEqual(["m1:6880"]); // not avoided: it said it is restarting
  });
});
