/**
 * Who is calling: bearer tokens checked against the cluster's JWT key and
 * the role a route needs (design §7). With --insecure everyone is admin.
 */
import { roleAllows, verifyToken, type Claims, type Role } from "../auth/index.ts";
import { HttpError } from "./http/errors.ts";

export const INSECURE_CLAIMS: Claims = { sub: "insecure", role: "admin", jti: "insecure", iat: 0 };

export class TokenGate {
  constructor(
    private readonly key: Uint8Array,
    private readonly insecure: boolean,
    private readonly nowSec: () => number,
    private readonly revoked: ReadonlySet<string> = new Set(),
  ) {}

  /**
   * The token from `Authorization: Bearer`, or `?token=` where a header
   * cannot be sent (`queryToken`: the /ws upgrade, for WebSocket clients
   * such as browsers). Anywhere else a token in the URL is ignored: URLs
   * end up in proxy logs, shell history and Referer headers.
   */
  static tokenOf(req: Request, url: URL, queryToken = false): string | null {
    const h = req.headers.get("authorization");
    if (h) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
      return m ? m[1]! : null;
    }
    return queryToken ? url.searchParams.get("token") : null;
  }

  /** Returns the caller's claims or throws a 401/403 HttpError. */
  check(req: Request, url: URL, need: Role, opts: { queryToken?: boolean } = {}): Claims {
    const claims = this.identify(req, url, need, opts);
    this.authorize(claims, need);
    return claims;
  }

  /** Who the caller is (a valid, unrevoked token), whatever its role; a 401 HttpError if nobody. `need` only words the refusal. */
  identify(req: Request, url: URL, need: Role, opts: { queryToken?: boolean } = {}): Claims {
    if (this.insecure) return INSECURE_CLAIMS;
    const token = TokenGate.tokenOf(req, url, opts.queryToken);
    if (!token) {
      const inUrl = !opts.queryToken && url.searchParams.has("token");
      throw new HttpError(401, "no_token", `this endpoint needs a ${need} token${inUrl ? " in an 'Authorization: Bearer' header (a token in the URL is accepted on /ws only)" : ""}: pass --token-file or set LAVA_TOKEN (an admin creates one with 'lava ctl token create --role ${need}')`);
    }
    const r = verifyToken(token, this.key, this.nowSec());
    if (!r.ok) throw new HttpError(401, "bad_token", `token refused (${r.reason}); check that it was minted by this cluster and has not expired`);
    if (this.revoked.has(r.claims.jti)) throw new HttpError(401, "revoked_token", `token ${r.claims.jti} was revoked; ask an admin for a new one`);
    return r.claims;
  }

  /** A 403 HttpError unless the caller's role may do what needs `need`. */
  authorize(claims: Claims, need: Role): void {
    if (!roleAllows(claims.role, need)) throw new HttpError(403, "forbidden", `role '${claims.role}' may not do this; it needs role '${need}'`);
  }
}
