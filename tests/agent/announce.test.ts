import { describe, expect, test } from "bun:test";
import { judgeAnnounce, membership } from "../../src/agent/announce.ts";
import { encodeAnnounce, encodeReport, type Announce } from "../../src/wire/index.ts";

const key = new Uint8Array(32).fill(7);
const otherKey = new Uint8Array(32).fill(8);
const session = { hostId: 5, key, lastAnnounceSeq: -1, lastAnnounceTerm: 0 };
const base: Announce = { nodeId: 1, term: 2, reportIntervalMs: 4000, leaderAddr: "10.0.0.1:6880", windowBase: 0, activeHostIds: [1, 5, 9] };

describe("judgeAnnounce", () => {
  test("accepts an announce signed with the session key and addressed to us", () => {
    const v = judgeAnnounce(encodeAnnounce(base, { hostId: 5, seq: 3, key }), session, false);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.seq).toBe(3);
    expect(v.membership).toBe("active");
    expect(v.announce.leaderAddr).toBe("10.0.0.1:6880");
    expect(v.announce.reportIntervalMs).toBe(4000);
  });

  test("a clear bit for our id inside the window reads as inactive (forgotten)", () => {
    const v = judgeAnnounce(encodeAnnounce({ ...base, activeHostIds: [1, 9] }, { hostId: 5, seq: 1, key }), session, false);
    expect(v.ok && v.membership).toBe("inactive");
  });

  test("an id outside the window is not described", () => {
    const v = judgeAnnounce(encodeAnnounce({ ...base, windowBase: 8, activeHostIds: [9] }, { hostId: 5, seq: 1, key }), session, false);
    expect(v.ok && v.membership).toBe("outside");
    const empty = judgeAnnounce(encodeAnnounce({ ...base, activeHostIds: [] }, { hostId: 5, seq: 1, key }), session, false);
    expect(empty.ok && empty.membership).toBe("outside");
  });

  test("rejects: no session, wrong key, wrong host, replay, no AUTH, not an announce, malformed", () => {
    const good = encodeAnnounce(base, { hostId: 5, seq: 3, key });
    expect(judgeAnnounce(good, null, false)).toEqual({ ok: false, reason: "no_session" });
    expect(judgeAnnounce(encodeAnnounce(base, { hostId: 5, seq: 3, key: otherKey }), session, false)).toEqual({ ok: false, reason: "bad_tag" });
    expect(judgeAnnounce(encodeAnnounce(base, { hostId: 6, seq: 3, key }), session, false)).toEqual({ ok: false, reason: "wrong_host" });
    expect(judgeAnnounce(good, { ...session, lastAnnounceSeq: 4, lastAnnounceTerm: 2 }, false)).toEqual({ ok: false, reason: "replay" });
    expect(judgeAnnounce(good, { ...session, lastAnnounceSeq: 3, lastAnnounceTerm: 2 }, false).ok).toBe(true);
    // A new leader (higher term) counts its announces from 1 again; an old term's announce is a replay whatever its seq.
    expect(judgeAnnounce(encodeAnnounce({ ...base, term: 3 }, { hostId: 5, seq: 1, key }), { ...session, lastAnnounceSeq: 900, lastAnnounceTerm: 2 }, false).ok).toBe(true);
    expect(judgeAnnounce(encodeAnnounce({ ...base, term: 1 }, { hostId: 5, seq: 999, key }), { ...session, lastAnnounceSeq: 3, lastAnnounceTerm: 2 }, false)).toEqual({ ok: false, reason: "replay" });
    expect(judgeAnnounce(encodeAnnounce(base), session, false)).toEqual({ ok: false, reason: "unauthenticated" });
    const report = encodeReport(
      { load1: 1, load5: 1, load15: 1, memUsed: 1, memFree: 1, swapUsed: 0, swapFree: 0, ncpus: 1, cpuUser: 1, cpuSys: 1, cpuIdle: 98, jobsRunning: 0, jobsPending: 0, procsTotal: 1, flags: 0 },
      { hostId: 5, seq: 1, key },
    );
    expect(judgeAnnounce(report, session, false)).toEqual({ ok: false, reason: "not_announce" });
    expect(judgeAnnounce(new Uint8Array(3), session, false)).toEqual({ ok: false, reason: "short" });
    const tampered = good.slice();
    tampered[tampered.length - 1]! ^= 1;
    expect(judgeAnnounce(tampered, session, false).ok).toBe(false);
  });

  test("in --insecure mode an announce without AUTH is accepted; one with AUTH must still verify", () => {
    const v = judgeAnnounce(encodeAnnounce(base), session, true);
    expect(v.ok && v.seq).toBe(null);
    expect(judgeAnnounce(encodeAnnounce(base, { hostId: 5, seq: 1, key: otherKey }), session, true)).toEqual({ ok: false, reason: "bad_tag" });
  });
});

describe("membership", () => {
  test("bit i is byte i>>3, mask 0x80>>(i&7), counted from windowBase", () => {
    const bitmap = new Uint8Array([0b1000_0000, 0b0000_0001]);
    expect(membership({ windowBase: 100, bitmap }, 100)).toBe("active");
    expect(membership({ windowBase: 100, bitmap }, 101)).toBe("inactive");
    expect(membership({ windowBase: 100, bitmap }, 115)).toBe("active");
    expect(membership({ windowBase: 100, bitmap }, 116)).toBe("outside");
    expect(membership({ windowBase: 100, bitmap }, 99)).toBe("outside");
  });
});
