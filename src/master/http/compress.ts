/**
 * JSON answers that may be large (the load table of 10,000 hosts is ~3.6 MB,
 * a cluster's history more) go out gzipped when the client says it takes
 * gzip: level 1, ~6 ms and 1/7 of the bytes for the load table, which is
 * what a browser refreshing it every few seconds needs. Small answers, and
 * clients that do not ask, get plain JSON.
 */
const GZIP_MIN_BYTES = 8 * 1024;

export function acceptsGzip(req: Request): boolean {
  const ae = req.headers.get("accept-encoding");
  if (!ae) return false;
  return ae.split(",").some((part) => {
    const [name, ...params] = part.toLowerCase().split(";").map((x) => x.trim());
    if (name !== "gzip") return false;
    const q = params.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** `body` as a JSON response, gzipped for a client that accepts it once it is worth it. */
export function jsonFor(req: Request, body: unknown, status = 200): Response {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = { "content-type": "application/json", vary: "accept-encoding" };
  if (text.length >= GZIP_MIN_BYTES && acceptsGzip(req)) {
    headers["content-encoding"] = "gzip";
    return new Response(Bun.gzipSync(new TextEncoder().encode(text), { level: 1 }), { status, headers });
  }
  return new Response(text, { status, headers });
}
