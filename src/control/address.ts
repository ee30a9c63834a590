/** "host:port[,host:port…]" lists of masters (design §8), as given by --master / LAVA_MASTER. */
export interface HostPort {
  host: string;
  port: number;
}

export const DEFAULT_HTTP_PORT = 6880;

/** Parses one address; IPv6 as "[::1]:6880". A missing port means the default HTTP port. Returns null if malformed. */
export function parseHostPort(text: string, defaultPort = DEFAULT_HTTP_PORT): HostPort | null {
  const s = text.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
  if (!s) return null;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(s);
  if (!m) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: m[1]!, port };
}

/** Parses a comma-separated list; throws an Error naming the bad item (callers turn it into a usage error). */
export function parseMasterList(text: string, defaultPort = DEFAULT_HTTP_PORT): HostPort[] {
  const items = text.split(",").map((x) => x.trim()).filter(Boolean);
  if (items.length === 0) throw new Error("no master address given (use --master host:port or LAVA_MASTER)");
  return items.map((item) => {
    const hp = parseHostPort(item, defaultPort);
    if (!hp) throw new Error(`bad master address "${item}" (expected host:port)`);
    return hp;
  });
}

export const formatHostPort = (hp: HostPort) => (hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`);
