/**
 * The address a request came from, for the routes that record it (audit of
 * refusals). Bun knows it only in Bun.serve's fetch (server.requestIP), so
 * the server notes it there, keyed by the Request; never from a header a
 * client could set. A request forwarded by a follower comes from that
 * follower's address.
 */
const ips = new WeakMap<Request, string>();

export function noteClientIp(req: Request, ip: string | undefined): void {
  if (ip) ips.set(req, ip.startsWith("::ffff:") ? ip.slice(7) : ip);
}

export function clientIp(req: Request): string {
  return ips.get(req) ?? "unknown";
}
