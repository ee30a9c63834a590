import { describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import {
  AGENT_SESSION_TTL_SEC,
  agentSessionClaims,
  isSessionToken,
  jwtKey,
  roleAllows,
  signToken,
  verifyToken,
  type Claims,
  type VerifyResult,
} from "../../src/auth/index.ts";

const KEY = jwtKey(Uint8Array.from({ length: 32 }, (_, i) => i));
const OTHER_KEY = jwtKey(Uint8Array.from({ length: 32 }, (_, i) => 255 - i));
const NOW = 1_700_000_000;

const b64u = (x: unknown) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
const HS256 = { alg: "HS256", typ: "JWT" };

/** Builds a token by hand from base64url pieces, independent of signToken. */
function handToken(header: unknown, payload: unknown, key: Uint8Array = KEY): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}

const claims: Claims = { sub: "ops", role: "admin", jti: "0123456789abcdef0123456789abcdef", iat: NOW };

function reasonOf(r: VerifyResult): string {
  return r.ok ? "ok" : r.reason;
}

describe("signToken / verifyToken", () => {
  test("round trip returns the claims", () => {
    const token = signToken(claims, KEY);
    expect(token.split(".")).toHaveLength(3);
    expect(verifyToken(token, KEY, NOW)).toEqual({ ok: true, claims });
  });

  test("round trip keeps exp and host", () => {
    const c: Claims = { sub: "agent:h1", role: "agent", jti: "j", iat: NOW, exp: NOW + 60, host: "h1" };
    expect(verifyToken(signToken(c, KEY), KEY, NOW)).toEqual({ ok: true, claims: c });
  });

  test("the header is exactly {alg: HS256, typ: JWT}", () => {
    const [h] = signToken(claims, KEY).split(".");
    expect(JSON.parse(Buffer.from(h ?? "", "base64url").toString())).toEqual(HS256);
  });

  test("a token without exp is long-lived", () => {
    expect(verifyToken(signToken(claims, KEY), KEY, NOW + 10 * 365 * 86400).ok).toBe(true);
  });

  test("interop: a token built by hand from base64url pieces verifies", () => {
    // Key order differs from ours and an unknown claim is present (dropped on decode).
    const token = handToken(HS256, { iat: NOW, jti: "j1", role: "read", sub: "script", nbf: NOW });
    expect(verifyToken(token, KEY, NOW)).toEqual({ ok: true, claims: { sub: "script", role: "read", jti: "j1", iat: NOW } });
  });

  test("interop: signToken output is the standard HS256 construction", () => {
    const token = signToken(claims, KEY);
    const [h, p, s] = token.split(".") as [string, string, string];
    expect(createHmac("sha256", KEY).update(`${h}.${p}`).digest("base64url")).toBe(s);
    expect(token).not.toContain("=");
  });

  test("a token signed with another key fails with bad_signature", () => {
    expect(reasonOf(verifyToken(signToken(claims, OTHER_KEY), KEY, NOW))).toBe("bad_signature");
  });

  test("a tampered payload fails with bad_signature", () => {
    const [h, , s] = signToken({ ...claims, role: "read" }, KEY).split(".");
    const forged = `${h}.${b64u({ ...claims, role: "admin" })}.${s}`;
    expect(reasonOf(verifyToken(forged, KEY, NOW))).toBe("bad_signature");
  });

  test("a truncated or lengthened signature fails with bad_signature", () => {
    const token = signToken(claims, KEY);
    const [h, p, s] = token.split(".") as [string, string, string];
    const sig = Buffer.from(s, "base64url");
    expect(reasonOf(verifyToken(`${h}.${p}.${sig.subarray(0, 31).toString("base64url")}`, KEY, NOW))).toBe("bad_signature");
    expect(reasonOf(verifyToken(`${h}.${p}.${Buffer.concat([sig, Buffer.from([0])]).toString("base64url")}`, KEY, NOW))).toBe(
      "bad_signature",
    );
    expect(reasonOf(verifyToken(`${h}.${p}.`, KEY, NOW))).toBe("bad_signature");
  });

  test("garbage and wrong segment counts are malformed", () => {
    for (const t of ["", ".", "..", "...", "abc", "a.b", "a.b.c.d", "🙂.🙂.🙂", "x".repeat(10_000), "null", "{}.{}.{}"]) {
      expect(reasonOf(verifyToken(t, KEY, NOW))).toBe("malformed");
    }
    const [h, p, s] = signToken(claims, KEY).split(".");
    expect(reasonOf(verifyToken(`${h}.${p}`, KEY, NOW))).toBe("malformed");
    expect(reasonOf(verifyToken(`${h}.${p}.${s}.${s}`, KEY, NOW))).toBe("malformed");
  });

  test("bad base64url is malformed: wrong alphabet, padding, impossible length, stray bits", () => {
    const [h, p, s] = signToken(claims, KEY).split(".") as [string, string, string];
    // 32 bytes take 43 characters = 258 bits: the last character's 2 low bits are unused.
    // Flipping one spells the same bytes differently (Buffer would accept it); we do not.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const stray = alphabet[alphabet.indexOf(s.at(-1) ?? "A") ^ 1] ?? "";
    const straySig = `${s.slice(0, -1)}${stray}`;
    const len1mod4 = p + "A".repeat((((1 - p.length) % 4) + 4) % 4 || 4);
    expect(len1mod4.length % 4).toBe(1);
    expect(Buffer.from(straySig, "base64url").equals(Buffer.from(s, "base64url"))).toBe(true);
    for (const t of [
      `${h}.${p}.${s}=`,
      `${h}=.${p}.${s}`,
      `${h}.${p}!.${s}`,
      `${h}.${p}.+${s.slice(1)}`,
      `${h}.${p}./${s.slice(1)}`,
      `${h}.${len1mod4}.${s}`, // length ≡ 1 (mod 4) cannot be base64url
      `${h}.${p}.${straySig}`,
    ]) {
      expect(reasonOf(verifyToken(t, KEY, NOW))).toBe("malformed");
    }
  });

  test("extra whitespace anywhere is malformed", () => {
    const token = signToken(claims, KEY);
    const [h, p, s] = token.split(".");
    for (const t of [` ${token}`, `${token} `, `${token}\n`, `\t${token}`, `${h}. ${p}.${s}`, `${h}.${p} .${s}`]) {
      expect(reasonOf(verifyToken(t, KEY, NOW))).toBe("malformed");
    }
  });

  test('alg "none" is unsupported_alg, with or without a signature', () => {
    const none = { alg: "none", typ: "JWT" };
    expect(reasonOf(verifyToken(`${b64u(none)}.${b64u(claims)}.`, KEY, NOW))).toBe("unsupported_alg");
    expect(reasonOf(verifyToken(handToken(none, claims), KEY, NOW))).toBe("unsupported_alg");
    expect(reasonOf(verifyToken(handToken({ alg: "None", typ: "JWT" }, claims), KEY, NOW))).toBe("unsupported_alg");
  });

  test("alg RS256, HS512 or a missing alg is unsupported_alg", () => {
    expect(reasonOf(verifyToken(handToken({ alg: "RS256", typ: "JWT" }, claims), KEY, NOW))).toBe("unsupported_alg");
    expect(reasonOf(verifyToken(handToken({ alg: "HS512", typ: "JWT" }, claims), KEY, NOW))).toBe("unsupported_alg");
    expect(reasonOf(verifyToken(handToken({ typ: "JWT" }, claims), KEY, NOW))).toBe("unsupported_alg");
  });

  test("a header other than exactly {alg, typ: JWT} is malformed", () => {
    for (const header of [
      { alg: "HS256" },
      { alg: "HS256", typ: "jwt" },
      { alg: "HS256", typ: "JWT", kid: "1" },
      { alg: "HS256", typ: "JWT", crit: ["exp"] },
      [HS256],
      "HS256",
      null,
    ]) {
      expect(reasonOf(verifyToken(handToken(header, claims), KEY, NOW))).toBe("malformed");
    }
    expect(reasonOf(verifyToken(`${b64u("{not json")}.${b64u(claims)}.${"A".repeat(43)}`, KEY, NOW))).toBe("malformed");
  });

  test("a correctly signed payload that is not JSON is malformed", () => {
    expect(reasonOf(verifyToken(handToken(HS256, "{role: admin"), KEY, NOW))).toBe("malformed");
    const input = `${b64u(HS256)}.${Buffer.from([0xff, 0xfe, 0x7b]).toString("base64url")}`;
    const t = `${input}.${createHmac("sha256", KEY).update(input).digest("base64url")}`;
    expect(reasonOf(verifyToken(t, KEY, NOW))).toBe("malformed");
  });

  test("correctly signed but invalid claims are bad_claims", () => {
    const { role: _role, ...noRole } = claims;
    for (const payload of [
      noRole,
      { ...claims, role: "root" },
      { ...claims, sub: "" },
      { ...claims, jti: 5 },
      { ...claims, iat: "now" },
      { ...claims, iat: NOW + 0.5 },
      { ...claims, iat: -1 },
      { ...claims, exp: "never" },
      { ...claims, exp: NOW }, // exp must be after iat
      { ...claims, host: 7 },
      [claims],
      null,
      42,
    ]) {
      expect(reasonOf(verifyToken(handToken(HS256, payload), KEY, NOW))).toBe("bad_claims");
    }
  });

  test("exp in the past is expired", () => {
    const t = signToken({ ...claims, iat: NOW - 7200, exp: NOW - 3600 }, KEY);
    expect(reasonOf(verifyToken(t, KEY, NOW))).toBe("expired");
  });

  test("expiry boundary: valid before exp, expired at exp", () => {
    const t = signToken({ ...claims, exp: NOW + 100 }, KEY);
    expect(verifyToken(t, KEY, NOW + 99).ok).toBe(true);
    expect(verifyToken(t, KEY, NOW + 99.999).ok).toBe(true);
    expect(reasonOf(verifyToken(t, KEY, NOW + 100))).toBe("expired");
    expect(reasonOf(verifyToken(t, KEY, NOW + 101))).toBe("expired");
  });

  test("the signature is checked before expiry: an expired forgery is bad_signature", () => {
    const t = signToken({ ...claims, exp: NOW - 1, iat: NOW - 2 }, OTHER_KEY);
    expect(reasonOf(verifyToken(t, KEY, NOW))).toBe("bad_signature");
  });

  test("never throws: seeded random mutations of a valid token", () => {
    const token = signToken({ ...claims, exp: NOW + 10 }, KEY);
    const alphabet = "ABCxyz019-_.=+/ \n\u0000é🙂";
    let seed = 0x2545f491;
    const rand = (n: number) => {
      // xorshift32: reproducible, no Math.random.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const chars = [...token];
      for (let k = 1 + rand(3); k > 0; k--) {
        const at = rand(chars.length);
        const op = rand(3);
        const c = alphabet[rand(alphabet.length)] ?? "A";
        if (op === 0) chars[at] = c;
        else if (op === 1) chars.splice(at, 1);
        else chars.splice(at, 0, c);
      }
      const r = verifyToken(chars.join(""), KEY, NOW);
      seen.add(reasonOf(r));
    }
    expect(seen.has("malformed")).toBe(true);
    expect(seen.has("bad_signature")).toBe(true);
  });

  test("a non-string token (from untyped input) is malformed, not a throw", () => {
    expect(reasonOf(verifyToken(undefined as unknown as string, KEY, NOW))).toBe("malformed");
    expect(reasonOf(verifyToken(42 as unknown as string, KEY, NOW))).toBe("malformed");
  });

  test("programmer errors throw: short key, bad clock, invalid claims to sign", () => {
    expect(() => signToken(claims, new Uint8Array(16))).toThrow(RangeError);
    expect(() => verifyToken("a.b.c", new Uint8Array(16), NOW)).toThrow(RangeError);
    expect(() => verifyToken("a.b.c", KEY, Number.NaN)).toThrow(RangeError);
    expect(() => signToken({ ...claims, role: "root" as "admin" }, KEY)).toThrow(/role/);
    expect(() => signToken({ ...claims, exp: NOW - 1 }, KEY)).toThrow(/exp must be after iat/);
  });
});

describe("agentSessionClaims", () => {
  test("role agent, host bound, exp = iat + 3600", () => {
    const c = agentSessionClaims({ sub: "agent:h1", host: "h1", jti: "j", nowSec: NOW + 0.7 });
    expect(c).toEqual({ sub: "agent:h1", role: "agent", jti: "j", iat: NOW, exp: NOW + 3600, host: "h1", sgen: 0 });
    expect(AGENT_SESSION_TTL_SEC).toBe(3600);
    const t = signToken(c, KEY);
    expect(verifyToken(t, KEY, NOW + 3599).ok).toBe(true);
    expect(reasonOf(verifyToken(t, KEY, NOW + 3600))).toBe("expired");
  });
  test("bound to the host key and session generation, with a configurable lifetime; the claims survive signing", () => {
    const c = agentSessionClaims({ sub: "agent:h1", host: "h1", jti: "j", nowSec: NOW, ttlSec: 5, hostKeyFingerprint: "SHA256:abc", sessionGen: 3 });
    expect(c).toMatchObject({ exp: NOW + 5, hkf: "SHA256:abc", sgen: 3 });
    const v = verifyToken(signToken(c, KEY), KEY, NOW + 1);
    expect(v.ok && v.claims).toEqual(c);
    expect(isSessionToken(c)).toBe(true);
    expect(isSessionToken({ sub: "x", role: "agent", jti: "j", iat: NOW, host: "h1" })).toBe(false);
  });
});

describe("roleAllows", () => {
  test("admin ⊇ read; agent only on the agent channel; admin also on the agent channel", () => {
    const table: [Parameters<typeof roleAllows>[0], Parameters<typeof roleAllows>[1], boolean][] = [
      ["admin", "admin", true],
      ["admin", "read", true],
      ["admin", "agent", true],
      ["read", "read", true],
      ["read", "admin", false],
      ["read", "agent", false],
      ["agent", "agent", true],
      ["agent", "read", false],
      ["agent", "admin", false],
    ];
    for (const [role, need, allowed] of table) expect(`${role}→${need}:${roleAllows(role, need)}`).toBe(`${role}→${need}:${allowed}`);
  });
});
