import { describe, expect, test } from "bun:test";
import { initialMembers, parsePeer } from "../../../src/master/raft/members.ts";
import { nextMembers } from "../../../src/master/raft/driver.ts";
import { bodyHash, PEER_ADDR_HEADER, PEER_HEADER, PEER_WINDOW_MS, PeerAuth } from "../../../src/master/raft/peer-auth.ts";

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

  test("peer signatures: made with the cluster secret, bound to node, time, nonce, method, path, address and body", () => {
    let now = 1_000_000;
    const auth = new PeerAuth(secret, () => now);
    const body = '[{"type":"heartbeat"}]';
    const signed = auth.sign(2, "b:1", "POST", "/_raft/append", bodyHash(body));
    const h = new Headers(signed.headers);
    now += 500;
    expect(auth.verify(h, "POST", "/_raft/append", bodyHash(body))).toEqual({ ok: true, from: 2, addr: "b:1", nonce: signed.nonce });
    const fresh = () => new Headers(auth.sign(2, "b:1", "POST", "/_raft/append", bodyHash(body)).headers);
    expect(auth.verify(fresh(), "POST", "/_raft/vote", bodyHash(body))).toMatchObject({ ok: false, reason: expect.stringContaining("does not match") });
    expect(auth.verify(fresh(), "POST", "/_raft/append", bodyHash('[{"type":"append"}]'))).toMatchObject({ ok: false, reason: expect.stringContaining("another body") });
    const moved = fresh();
    moved.set(PEER_ADDR_HEADER, "evil:1");
    expect(auth.verify(moved, "POST", "/_raft/append", bodyHash(body)).ok).toBe(false);
    const other = new PeerAuth(new Uint8Array(32).fill(8), () => now);
    expect(other.verify(fresh(), "POST", "/_raft/append", bodyHash(body)).ok).toBe(false);
    expect(auth.verify(new Headers(), "POST", "/_raft/append", bodyHash(body))).toMatchObject({ ok: false, reason: expect.stringContaining(PEER_HEADER) });
    const garbage = new Headers({ [PEER_HEADER]: "x.y.z" });
    expect(auth.verify(garbage, "POST", "/_raft/append", bodyHash(body))).toMatchObject({ ok: false, reason: expect.stringContaining("malformed") });
    // The old format (id.sec.tag, no nonce) of masters before this version is refused, saying why.
    const old = new Headers({ [PEER_HEADER]: `2.${Math.floor(now / 1000)}.${"a".repeat(64)}` });
    expect(auth.precheck(old)).toContain("same version");
  });

  test("a recorded request is refused when replayed: with the same body, with another body, and once older than the window", () => {
    let now = 5_000_000;
    const auth = new PeerAuth(secret, () => now);
    const body = '[{"type":"append","from":2,"to":1}]';
    const h = new Headers(auth.sign(2, "b:1", "POST", "/_raft/append", bodyHash(body)).headers);
    expect(auth.verify(h, "POST", "/_raft/append", bodyHash(body)).ok).toBe(true);
    expect(auth.verify(h, "POST", "/_raft/append", bodyHash(body))).toMatchObject({ ok: false, reason: expect.stringContaining("replayed") });
    expect(auth.verify(h, "POST", "/_raft/append", bodyHash("[]"))).toMatchObject({ ok: false });
    // Recorded and never delivered: refused once the window has passed (by then its nonce may be forgotten).
    const late = new Headers(auth.sign(2, "b:1", "POST", "/_raft/append", bodyHash(body)).headers);
    now += PEER_WINDOW_MS + 1;
    expect(auth.verify(late, "POST", "/_raft/append", bodyHash(body))).toMatchObject({ ok: false, reason: expect.stringContaining("NTP") });
    // Nonces are forgotten only once a replay would fail the window check anyway; the cache stays bounded.
    now += 2 * PEER_WINDOW_MS;
    expect(auth.verify(new Headers(auth.sign(2, "b:1", "POST", "/_raft/append", bodyHash(body)).headers), "POST", "/_raft/append", bodyHash(body)).ok).toBe(true);
    expect(auth.remembered).toBe(1);
  });

  test("an answer is bound to the request it answers: it cannot be replayed as the answer to another", () => {
    const auth = new PeerAuth(secret);
    const a = auth.sign(1, "a:1", "POST", "/_raft/append", bodyHash("[]"));
    const b = auth.sign(1, "a:1", "POST", "/_raft/append", bodyHash("[]"));
    const answer = '[{"type":"append_resp"}]';
    const h = new Headers(auth.signAnswer(2, "b:1", "/_raft/append", a.nonce, bodyHash(answer)));
    expect(auth.verifyAnswer(h, "/_raft/append", a.nonce, bodyHash(answer))).toMatchObject({ ok: true, from: 2 });
    expect(auth.verifyAnswer(h, "/_raft/append", b.nonce, bodyHash(answer)).ok).toBe(false);
    expect(auth.verifyAnswer(h, "/_raft/append", a.nonce, bodyHash("[]")).ok).toBe(false);
  });
});
