/**
 * HS256 JSON Web Tokens (RFC 7519) on node:crypto, for the three roles of
 * design §7. Pure: the caller passes the key, the time (`nowSec`, Unix
 * seconds) and the token id; nothing here reads a clock or draws a random.
 *
 * We are the only issuer, so verification is strict rather than liberal:
 * - the header must be exactly {"alg":"HS256","typ":"JWT"}; any other alg
 *   ("none", "RS256", …) is `unsupported_alg`, so a token can never choose
 *   how it is checked;
 * - each segment must be canonical unpadded base64url. Whitespace anywhere
 *   (e.g. a header value not trimmed) is `malformed`: trimming the
 *   `Authorization` header is the HTTP layer's job;
 * - the signature is checked (constant time) before the payload is parsed,
 *   so unauthenticated bytes never reach JSON.parse or the claims schema.
 * `verifyToken` never throws for any token string; a bad key or clock value
 * is a programmer error and throws a RangeError.
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import * as v from "valibot";

import { RoleSchema, type Role } from "../control/roles.ts";

export { ROLES, RoleSchema, type Role } from "../control/roles.ts";

/** Agent session tokens, issued by the master at registration, last one hour (design §4). */
export const AGENT_SESSION_TTL_SEC = 3600;
/** Longest token string verifyToken will look at; ours are ~300 characters. */
export const TOKEN_CHARS_MAX = 4096;
/** Longest string claim (sub, jti, host). */
const CLAIM_CHARS_MAX = 256;
/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash output. */
const KEY_BYTES_MIN = 32;
const SIGNATURE_BYTES = 32;

const claimString = v.pipe(v.string(), v.minLength(1), v.maxLength(CLAIM_CHARS_MAX));
const numericDate = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

/**
 * The claims lava signs. `exp` absent means long-lived (admin and ctl
 * tokens minted by an operator; revoked by `jti`). `host` binds an agent
 * token to one hostname. Unknown claims in a token are dropped on decode.
 */
export const ClaimsSchema = v.pipe(
  v.object({
    sub: claimString,
    role: RoleSchema,
    jti: claimString,
    iat: numericDate,
    exp: v.optional(numericDate),
    host: v.optional(claimString),
    /** Session tokens: the fingerprint of the host key the session was opened with. */
    hkf: v.optional(claimString),
    /** Session tokens: the host's session generation when issued (`lava ctl host revoke-sessions` raises it). */
    sgen: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
  }),
  v.check((c) => c.exp === undefined || c.exp > c.iat, "exp must be after iat"),
);
export type Claims = v.InferOutput<typeof ClaimsSchema>;

const HeaderSchema = v.strictObject({ alg: v.literal("HS256"), typ: v.literal("JWT") });
/** The only header lava writes, in this key order. */
const HEADER_SEGMENT = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

export type VerifyFailure = "malformed" | "bad_signature" | "expired" | "bad_claims" | "unsupported_alg";
export type VerifyResult = { ok: true; claims: Claims } | { ok: false; reason: VerifyFailure };

/**
 * Who may do what. admin ⊇ read, and admin is also accepted where an agent
 * is expected (the control channel): convenient for operators and tests
 * that drive `/ws` by hand, and an admin can already exec on every host, so
 * it grants nothing new. `agent` is accepted only on the agent channel, and
 * `read` only for queries: a leaked agent token cannot read the cluster and
 * a read token cannot pose as a host.
 */
export function roleAllows(role: Role, need: Role): boolean {
  if (role === "admin") return true;
  return role === need;
}

/**
 * Claims for the session token the master gives a registered agent: role
 * agent, bound to the host (and to its host key and session generation),
 * exp = iat + ttlSec (default 1 h).
 */
export function agentSessionClaims(args: { sub: string; host: string; jti: string; nowSec: number; ttlSec?: number; hostKeyFingerprint?: string | null; sessionGen?: number }): Claims {
  assertNow(args.nowSec);
  const iat = Math.floor(args.nowSec);
  const ttl = Math.max(1, Math.round(args.ttlSec ?? AGENT_SESSION_TTL_SEC));
  return {
    sub: args.sub,
    role: "agent",
    jti: args.jti,
    iat,
    exp: iat + ttl,
    host: args.host,
    ...(args.hostKeyFingerprint ? { hkf: args.hostKeyFingerprint } : {}),
    sgen: args.sessionGen ?? 0,
  };
}

/** A session token (issued at registration), as opposed to a join token an operator minted. */
export function isSessionToken(c: Claims): boolean {
  return c.role === "agent" && c.sgen !== undefined && c.host !== undefined && c.exp !== undefined;
}

/** Signs claims into a compact HS256 JWT. Invalid claims are a programmer error and throw. */
export function signToken(claims: Claims, key: Uint8Array): string {
  assertKey(key);
  const parsed = v.safeParse(ClaimsSchema, claims);
  if (!parsed.success) throw new RangeError(`auth: invalid token claims: ${v.summarize(parsed.issues)}`);
  const signingInput = `${HEADER_SEGMENT}.${Buffer.from(JSON.stringify(parsed.output)).toString("base64url")}`;
  return `${signingInput}.${Buffer.from(hmac(key, signingInput)).toString("base64url")}`;
}

/**
 * Checks a token's form, header, signature, claims and expiry, in that
 * order, and returns the first failure. A token is expired once
 * `nowSec >= exp` (RFC 7519 §4.1.4: valid only before exp).
 */
export function verifyToken(token: string, key: Uint8Array, nowSec: number): VerifyResult {
  assertKey(key);
  assertNow(nowSec);
  if (typeof token !== "string" || token.length > TOKEN_CHARS_MAX) return fail("malformed");
  const parts = token.split(".");
  if (parts.length !== 3) return fail("malformed");
  const [headerSeg, payloadSeg, signatureSeg] = parts as [string, string, string];
  const headerBytes = decodeSegment(headerSeg);
  const payloadBytes = decodeSegment(payloadSeg);
  const signature = decodeSegment(signatureSeg);
  if (!headerBytes || !payloadBytes || !signature) return fail("malformed");

  const header = parseJson(headerBytes);
  if (!isRecord(header)) return fail("malformed");
  if (header.alg !== "HS256") return fail("unsupported_alg");
  if (!v.is(HeaderSchema, header)) return fail("malformed");

  // The length of a MAC is public; timingSafeEqual needs equal lengths.
  if (signature.length !== SIGNATURE_BYTES) return fail("bad_signature");
  if (!timingSafeEqual(hmac(key, `${headerSeg}.${payloadSeg}`), signature)) return fail("bad_signature");

  const payload = parseJson(payloadBytes);
  if (payload === undefined) return fail("malformed");
  const claims = v.safeParse(ClaimsSchema, payload);
  if (!claims.success) return fail("bad_claims");
  if (claims.output.exp !== undefined && nowSec >= claims.output.exp) return fail("expired");
  return { ok: true, claims: claims.output };
}

function fail(reason: VerifyFailure): VerifyResult {
  return { ok: false, reason };
}

function hmac(key: Uint8Array, signingInput: string): Uint8Array {
  return createHmac("sha256", key).update(signingInput, "ascii").digest();
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Strict unpadded base64url: only the alphabet, and the text must be the
 * canonical encoding of what it decodes to (Buffer's decoder is lenient
 * and would accept stray bits or characters), so one token has one spelling.
 * An empty segment decodes to no bytes: `h.p.` (alg "none") then fails on its
 * header as unsupported_alg rather than as malformed.
 */
function decodeSegment(seg: string): Uint8Array | undefined {
  if (!BASE64URL.test(seg)) return undefined;
  const bytes = Buffer.from(seg, "base64url");
  return bytes.toString("base64url") === seg ? bytes : undefined;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** JSON from UTF-8 bytes, or undefined for bad UTF-8 or bad JSON. */
function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function assertKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length < KEY_BYTES_MIN) {
    throw new RangeError(`auth: HS256 key must be at least ${KEY_BYTES_MIN} bytes (use jwtKey(secret))`);
  }
}

function assertNow(nowSec: number): void {
  if (!Number.isFinite(nowSec) || nowSec < 0) throw new RangeError(`auth: nowSec must be a finite time in seconds, got ${nowSec}`);
}
