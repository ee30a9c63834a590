/**
 * auth: the cluster secret, keys derived from it, and HS256 tokens with
 * roles (design §7). keys.ts and jwt.ts are pure; secret.ts and ids.ts are
 * the edge (file system, randomness).
 */
export { deriveKey, jwtKey, sessionKey, KEY_BYTES, KEY_SALT, SECRET_BYTES_MIN, type KeyPurpose } from "./keys.ts";
export {
  agentSessionClaims,
  isSessionToken,
  roleAllows,
  signToken,
  verifyToken,
  AGENT_SESSION_TTL_SEC,
  ClaimsSchema,
  ROLES,
  RoleSchema,
  TOKEN_CHARS_MAX,
  type Claims,
  type Role,
  type VerifyFailure,
  type VerifyResult,
} from "./jwt.ts";
export { loadOrCreateSecret, writePrivateFile, SecretFileError, SECRET_BYTES, type LoadedSecret } from "./secret.ts";
export { newTokenId } from "./ids.ts";
export {
  generateHostKey,
  exportHostKey,
  importHostKey,
  hostKeyFingerprint,
  registerProofFields,
  registerProofText,
  tokenHash,
  verifyRegisterProof,
  HOST_KEY_BYTES,
  REGISTER_PROOF_DOMAIN,
  type HostKey,
} from "./host-key.ts";
