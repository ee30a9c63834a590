/**
 * A small method+path router. Handlers take a Request and return a Response
 * (or throw HttpError), so the whole API is testable without a socket.
 */
import * as v from "valibot";
import { HttpError, errorResponse, storeHttpError } from "./errors.ts";
import { StoreError } from "../../store/index.ts";
import { logger } from "../../log/index.ts";

export type Params = Record<string, string>;
export type Handler = (req: Request, params: Params, url: URL) => Response | Promise<Response>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  on(method: string, path: string, handler: Handler): this {
    this.routes.push({ method, parts: path.split("/").filter(Boolean), handler });
    return this;
  }

  async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const parts = url.pathname.split("/").filter(Boolean);
    try {
      return await this.dispatch(req, url, parts);
    } catch (e) {
      // Only match() can throw here (a path segment that is not valid percent-encoding): hostile input, a 400.
      if (e instanceof HttpError) return errorResponse(e);
      throw e;
    }
  }

  private async dispatch(req: Request, url: URL, parts: string[]): Promise<Response> {
    let pathMatched = false;
    for (const r of this.routes) {
      const params = match(r.parts, parts);
      if (!params) continue;
      pathMatched = true;
      if (r.method !== req.method && !(r.method === "GET" && req.method === "HEAD")) continue;
      try {
        return await r.handler(req, params, url);
      } catch (e) {
        if (e instanceof HttpError) return errorResponse(e);
        if (e instanceof StoreError) return errorResponse(storeHttpError(e));
        logger("http").error(`${req.method} ${url.pathname} failed`, e);
        return errorResponse(new HttpError(500, "internal", "the master failed to answer; see its log"));
      }
    }
    if (pathMatched) return errorResponse(new HttpError(405, "method_not_allowed", `${req.method} is not supported on ${url.pathname}`));
    return errorResponse(new HttpError(404, "not_found", `no such endpoint: ${url.pathname} (see docs/api.md)`));
  }
}

function match(pattern: string[], parts: string[]): Params | null {
  if (pattern.length !== parts.length) return null;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith(":")) params[p.slice(1)] = decodeSegment(parts[i]!);
    else if (p !== parts[i]) return null;
  }
  return params;
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, "bad_request", "the URL has a malformed percent-encoding (a '%' not followed by two hex digits of valid UTF-8)");
  }
}

/** Reads a JSON body with a size bound, as a 400 with a reason when it is not JSON. */
export async function readJson(req: Request, maxBytes = 1 << 20): Promise<unknown> {
  const text = await readText(req, maxBytes);
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "bad_json", "request body is not valid JSON");
  }
}

/** The body as text, refused with 413 as soon as it passes maxBytes (never buffered past the bound). */
export async function readText(req: Request, maxBytes: number): Promise<string> {
  return Buffer.from(await readBytes(req, maxBytes)).toString("utf8");
}

/** The body's bytes, refused with 413 as soon as it passes maxBytes (never buffered past the bound). */
export async function readBytes(req: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new HttpError(413, "too_large", `request body over ${maxBytes} bytes`);
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge();
  // A declared length within the bound is what the server reads (it ends the body there): read it whole.
  if (Number.isFinite(declared)) return new Uint8Array(await req.arrayBuffer());
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of req.body) {
    n += chunk.byteLength;
    if (n > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A body checked against its schema; a 400 with valibot's summary when it does not fit. */
export function parseBody<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, body);
  if (!r.success) throw new HttpError(400, "bad_request", v.summarize(r.issues));
  return r.output;
}

/**
 * A GET of durable state: answered only once this master is known to be
 * current (`barrier`: MasterState.linearizable, the read index in a cluster).
 */
export function linearizable(barrier: () => Promise<void>, h: Handler): Handler {
  return async (req, p, url) => {
    await barrier();
    return h(req, p, url);
  };
}
