/**
 * ControlSessions.heartbeat in slices (src/master/control/sessions.ts,
 * src/master/admission.ts pingSlices): a ping round is sent over the ping
 * interval in slices by host id, so that 10,000 pings do not stall the
 * master at once. Whatever the slicing, every session is pinged exactly
 * once a round, connections not registered yet are in slice 0, and a
 * session that missed two pongs is closed, not pinged.
 *
 * The sockets are stand-ins recording what is sent and closed (the
 * e2e tests run the real ones); the sessions and their tables are real.
 */
import { describe, expect, test } from "bun:test";
import type { Claims } from "../../../src/auth/index.ts";
import { AgentChannels, type AgentSocket, type WsData } from "../../../src/master/control/channels.ts";
import { Refusals } from "../../../src/master/control/refusals.ts";
import { CLOSE_DEAD, ControlSessions } from "../../../src/master/control/sessions.ts";
import { HostTable } from "../../../src/master/hosts/table.ts";

interface Fake {
  ws: AgentSocket;
  sent: { type: string; [k: string]: unknown }[];
  closed: { code: number; reason: string }[];
}

function fakeSocket(hostId: number): Fake {
  const f: Fake = { ws: null as unknown as AgentSocket, sent: [], closed: [] };
  const data: WsData = { claims: { sub: "agent", jti: `t${hostId}` } as Claims, tokenHash: "", ip: "10.0.0.1", hostId, missed: 0, connectedAtMs: 0, registeredAtMs: 0 };
  f.ws = { data, send: (text: string) => f.sent.push(JSON.parse(text)), close: (code: number, reason: string) => f.closed.push({ code, reason }) } as unknown as AgentSocket;
  return f;
}

function rig(hostIds: number[], pending = 0, spreadMs?: number) {
  const channels = new AgentChannels();
  const sessions = new ControlSessions({
    hosts: new HostTable(),
    channels,
    secret: new Uint8Array(32),
    reportIntervalMs: 4000,
    udpPort: 6879,
    nowMs: () => 1_000,
    persistHost: async () => {},
    jwtKey: new Uint8Array(32),
    identity: { insecure: false, hostKeys: "allow-missing", maxHosts: 100_000, sessionTokenTtlSec: 3600, registrations: { perToken: 1, perAddress: 1, burst: 1 } },
    refusals: new Refusals(),
    revoked: new Set(),
    audit: () => {},
    masters: () => [],
    ...(spreadMs !== undefined ? { followSpreadMs: () => spreadMs } : {}),
  });
  const registered = hostIds.map((id) => {
    const f = fakeSocket(id);
    channels.set(id, f.ws);
    return f;
  });
  const waiting = Array.from({ length: pending }, () => {
    const f = fakeSocket(0);
    sessions.open(f.ws);
    return f;
  });
  const round = (slices: number) => {
    for (let s = 0; s < slices; s++) sessions.heartbeat(s, slices);
  };
  return { sessions, registered, waiting, round };
}

const pings = (f: Fake) => f.sent.filter((m) => m.type === "ping").length;
const ids = [1, 2, 3, 299, 300, 301, 599, 600, 4_294_967_295, ...Array.from({ length: 500 }, (_, i) => 1000 + 7 * i)];

describe("heartbeat slices", () => {
  for (const slices of [1, 3, 300]) {
    test(`in ${slices} slice(s) a round pings every session exactly once, and every pending connection once`, () => {
      const r = rig(ids, 4);
      r.round(slices);
      expect(r.registered.map(pings)).toEqual(ids.map(() => 1));
      expect(r.waiting.map(pings)).toEqual([1, 1, 1, 1]);
      r.round(slices);
      expect(r.registered.map(pings)).toEqual(ids.map(() => 2));
    });
  }

  test("pending connections are in slice 0: no other slice pings them", () => {
    const r = rig([], 3);
    for (let s = 1; s < 300; s++) r.sessions.heartbeat(s, 300);
    expect(r.waiting.map(pings)).toEqual([0, 0, 0]);
    r.sessions.heartbeat(0, 300);
    expect(r.waiting.map(pings)).toEqual([1, 1, 1]);
  });

  test("a slice pings only the hosts whose id falls in it", () => {
    const r = rig(ids);
    r.sessions.heartbeat(1, 300);
    const pinged = r.registered.flatMap((f) => (pings(f) ? [f.ws.data.hostId] : []));
    expect(pinged).toEqual(ids.filter((id) => id % 300 === 1));
    expect(pinged.length).toBeGreaterThan(0);
  });

  test("a session that missed two pongs is closed in its slice (4001), not pinged; one that answered goes on", () => {
    const r = rig(ids, 0);
    const [answers, silent] = [r.registered[0]!, r.registered[1]!];
    for (let k = 0; k < 2; k++) {
      r.round(300);
      r.sessions.message(answers.ws, JSON.stringify({ type: "pong", ts: 1 }));
    }
    expect(silent.closed).toEqual([]);
    r.round(300);
    expect(silent.closed).toEqual([{ code: CLOSE_DEAD, reason: "missed 2 pings" }]);
    expect(pings(silent)).toBe(2);
    expect(answers.closed).toEqual([]);
    expect(pings(answers)).toBe(3);
  });

  test("pings carry the follow spread the master names, when it names one", () => {
    const named = rig([5], 0, 6250);
    named.round(1);
    expect(named.registered[0]!.sent).toEqual([{ type: "ping", ts: 1_000, followSpreadMs: 6250 }]);
    const none = rig([5]);
    none.round(1);
    expect(none.registered[0]!.sent).toEqual([{ type: "ping", ts: 1_000 }]);
  });
});
