import { describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { deriveKey, jwtKey, sessionKey } from "../../src/auth/index.ts";

/** 0x00..0x1f: a fixed secret for pinned vectors. */
const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("deriveKey", () => {
  // Pinned vectors, cross-checked once against an independent HKDF written
  // from RFC 5869 in Python (hmac + hashlib). If these change, every
  // existing token and session of every cluster stops verifying.
  test("jwt key of a fixed secret is pinned", () => {
    expect(hex(deriveKey(SECRET, "jwt"))).toBe("eaaf23471ce2ed8d53d45b9f86c80ccdb49a3f5812da9aef00efabc11fc0b103");
    expect(hex(jwtKey(SECRET))).toBe(hex(deriveKey(SECRET, "jwt")));
  });

  test("session key with context is pinned, and sessionKey is deriveKey(session, hostId/nonce)", () => {
    const expected = "2ec53780ef2cba7bb8a349319481db60431ed87ecd75106b4f60618b06b60084";
    expect(hex(deriveKey(SECRET, "session", "7/abc"))).toBe(expected);
    expect(hex(sessionKey(SECRET, 7, "abc"))).toBe(expected);
  });

  test("a shorter output length is pinned too", () => {
    expect(hex(deriveKey(SECRET, "raft", "", 16))).toBe("7b2e0703887c53cf86b6c1e3b2b352a9");
  });

  test("derivation is deterministic and 32 bytes by default", () => {
    const a = deriveKey(SECRET, "announce", "x");
    expect(a.length).toBe(32);
    expect(hex(deriveKey(SECRET, "announce", "x"))).toBe(hex(a));
  });

  test("different purposes give different keys", () => {
    const keys = (["jwt", "session", "raft", "announce"] as const).map((p) => hex(deriveKey(SECRET, p)));
    expect(new Set(keys).size).toBe(4);
  });

  test("different contexts give different keys; no context equals the empty context", () => {
    expect(hex(deriveKey(SECRET, "session", "1/a"))).not.toBe(hex(deriveKey(SECRET, "session", "1/b")));
    expect(hex(deriveKey(SECRET, "session", "1/a"))).not.toBe(hex(deriveKey(SECRET, "session", "11/a")));
    expect(hex(deriveKey(SECRET, "session"))).toBe(hex(deriveKey(SECRET, "session", "")));
  });

  test("different secrets give different keys", () => {
    const other = Uint8Array.from(SECRET, (b) => b ^ 0xff);
    expect(hex(deriveKey(other, "jwt"))).not.toBe(hex(deriveKey(SECRET, "jwt")));
  });

  test("sessionKey separates hosts and nonces", () => {
    expect(hex(sessionKey(SECRET, 1, "n"))).not.toBe(hex(sessionKey(SECRET, 2, "n")));
    expect(hex(sessionKey(SECRET, 1, "n"))).not.toBe(hex(sessionKey(SECRET, 1, "m")));
  });

  test("programmer errors throw: short secret, bad size, bad hostId, empty nonce", () => {
    expect(() => deriveKey(new Uint8Array(16), "jwt")).toThrow(RangeError);
    expect(() => deriveKey(SECRET, "jwt", "", 0)).toThrow(RangeError);
    expect(() => deriveKey(SECRET, "jwt", "", 255 * 32 + 1)).toThrow(RangeError);
    expect(() => sessionKey(SECRET, -1, "n")).toThrow(RangeError);
    expect(() => sessionKey(SECRET, 1.5, "n")).toThrow(RangeError);
    expect(() => sessionKey(SECRET, 2 ** 32, "n")).toThrow(RangeError);
    expect(() => sessionKey(SECRET, 1, "")).toThrow(RangeError);
  });
});
