/** "host:port[,host:port…]" lists of masters (design §8), as given by --master / LAVA_MASTER. */
export type Scheme = "http" | "https";

export interface HostPort {
  host: string;
  port: number;
  /**
   * Set when the address was written with one ("https://m1:6880"). Without
   * it, callers use their role's default (defaultScheme): the identity of
   * a master is host:port alone (formatHostPort), whatever its scheme.
   */
  scheme?: Scheme;
}

export const DEFAULT_HTTP_PORT = 6880;

/** Parses one address, "host:port" or "http(s)://host:port"; IPv6 as "[::1]:6880". A missing port means the default HTTP port. Returns null if malformed. */
export function parseHostPort(text: string, defaultPort = DEFAULT_HTTP_PORT): HostPort | null {
  const trimmed = text.trim();
  const scheme = /^(https?):\/\//i.exec(trimmed)?.[1]?.toLowerCase() as Scheme | undefined;
  const s = trimmed.replace(/^https?:\/\//i, "").replace(/\/+$/, "");
  if (!s) return null;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(s);
  if (!m) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return scheme ? { host: m[1]!, port, scheme } : { host: m[1]!, port };
}

/** Parses a comma-separated list; throws an Error naming the bad item (callers turn it into a usage error). */
export function parseMasterList(text: string, defaultPort = DEFAULT_HTTP_PORT): HostPort[] {
  const items = text.split(",").map((x) => x.trim()).filter(Boolean);
  if (items.length === 0) throw new Error("no master address given (use --master host:port or LAVA_MASTER)");
  return items.map((item) => {
    const hp = parseHostPort(item, defaultPort);
    if (!hp) throw new Error(`bad master address "${item}" (expected host:port, http://host:port or https://host:port)`);
    return hp;
  });
}

export const formatHostPort = (hp: HostPort) => (hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`);

/**
 * The scheme of addresses written without one: https when a `tls` section
 * is configured or any configured master is written https:// (the masters
 * of one cluster all serve TLS or none does), else http. Addresses learnt
 * at run time (a leader named by an announce or a not_leader answer) are
 * bare host:port and get this one too.
 */
export function defaultScheme(masters: readonly HostPort[], tlsConfigured: boolean): Scheme {
  return tlsConfigured || masters.some((m) => m.scheme === "https") ? "https" : "http";
}

/** `hp` with `fallback` as its scheme unless it was written with one. */
export const withScheme = (hp: HostPort, fallback: Scheme): HostPort => (hp.scheme ? hp : { ...hp, scheme: fallback });

/** "https://host:port" (no trailing slash); http when the address has no scheme. */
export const httpUrl = (hp: HostPort): string => `${hp.scheme ?? "http"}://${formatHostPort(hp)}`;
