/**
 * The address a request came from, for the routes that record it (audit of
 * refusals). Bun knows it only through the server that took the request
 * (server.requestIP), so the server notes itself there, keyed by the
 * Request; never from a header a client could set. A request forwarded by
 * a follower comes from that follower's address.
 *
 * Looked up only when asked: the lookup builds an address object (~3 µs,
 * ~3 % of a write's CPU on the master), and only refusals ask.
 */
interface AddressSource {
  requestIP(req: Request): { address: string } | null;
}

const servers = new WeakMap<Request, AddressSource>();

export function noteClientIp(req: Request, server: AddressSource): void {
  servers.set(req, server);
}

export function clientIp(req: Request): string {
  const ip = servers.get(req)?.requestIP(req)?.address;
  if (!ip) return "unknown";
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}
