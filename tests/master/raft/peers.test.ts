import { describe, expect, test } from "bun:test";
import { initialMembers, parsePeer } from "../../../src/master/raft/members.ts";
import { nextMembers } from "../../../src/master/raft/driver.ts";
import { PEER_ADDR_HEADER, PEER_HEADER, PeerAuth } from "../../../src/master/raft/peer-auth.ts";

const secret = new Uint8Array(32).fill(7);

describe("raft peers", () => {
  test("ID=HOST:PORT entries; this master may be listed or not; duplicates and bad entries are errors naming them", () => {
    expect(parsePeer("2=10.0.0.2:6880")).toEqual({ id: 2, addr: "10.0.0.2:6880" });
    expect(parsePeer("10.0.0.2:6880")).toBeNull();
    expect(parsePeer("0=h:1")).toBeNull();
    expect(initialMembers(1, "a:1", ["2=b:1", "3=c:1"])).toEqual({ voters: [1, 2, 3], addrs: { 1: "a:1", 2: "b:1", 3: "c:1" } });
    expect(initialMembers(2, "b:1", ["1=a:1", "2=b:1", "3=c:1"]).voters).toEqual([1, 2, 3]);
    expect(initialMembers(1, "a:1", [])).toEqual({ voters: [1], addrs: { 1: "a:1" } });
    expect(() => initialMembers(1, "a:1", ["2=b:1", "2=c:1"])).toThrow(/node id 2 is listed twice/);
    expect(() => initialMembers(1, "a:1", ["b:1"])).toThrow(/'b:1' is not ID=HOST:PORT/);
  });

  test("single-server changes add a member with its address and remove one", () => {
    const m = { voters: [1, 2, 3], addrs: { 1: "a", 2: "b", 3: "c" } };
    expect(nextMembers(m, { type: "add", node: 4, context: "d:1" })).toEqual({ voters: [1, 2, 3, 4], addrs: { 1: "a", 2: "b", 3: "c", 4: "d:1" } });
    expect(nextMembers(m, { type: "remove", node: 2 })).toEqual({ voters: [1, 3], addrs: { 1: "a", 3: "c" } });
  });

  test("peer signatures: made with the cluster secret, bound to node, time, method, path and address", () => {
    const auth = new PeerAuth(secret);
    const h = new Headers(auth.headers(2, "b:1", "POST", "/_raft/append", 1000));
    expect(auth.verify(h, "POST", "/_raft/append", 1010)).toEqual({ ok: true, from: 2, addr: "b:1" });
    expect(auth.verify(h, "POST", "/_raft/vote", 1010)).toMatchObject({ ok: false, reason: expect.stringContaining("does not match") });
    expect(auth.verify(h, "POST", "/_raft/append", 1100)).toMatchObject({ ok: false, reason: expect.stringContaining("NTP") });
    const moved = new Headers(h);
    moved.set(PEER_ADDR_HEADER, "evil:1");
    expect(auth.verify(moved, "POST", "/_raft/append", 1010).ok).toBe(false);
    const other = new PeerAuth(new Uint8Array(32).fill(8));
    expect(other.verify(h, "POST", "/_raft/append", 1010).ok).toBe(false);
    expect(auth.verify(new Headers(), "POST", "/_raft/append", 1010)).toMatchObject({ ok: false, reason: expect.stringContaining(PEER_HEADER) });
    const garbage = new Headers({ [PEER_HEADER]: "x.y.z" });
    expect(auth.verify(garbage, "POST", "/_raft/append", 1010)).toMatchObject({ ok: false, reason: expect.stringContaining("malformed") });
  });
});
