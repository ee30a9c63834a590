/** One error type for the HTTP API: status, short code, and a detail that says what to do. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    /** More fields for the JSON body (e.g. `leader` on not_leader). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = "HttpError";
  }
}

/** A write that could not be made: 503 with the store's code, the leader's address when known, and Retry-After. */
export function storeHttpError(e: { message: string; code: string; leader: string | null }): HttpError {
  return new HttpError(503, e.code, e.message, e.leader ? { leader: e.leader } : {});
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function errorResponse(e: HttpError, headers: Record<string, string> = {}): Response {
  // A 503 is worth retrying soon (an election, a busy master): say when.
  const all: Record<string, string> = e.status === 503 ? { "retry-after": "1", ...headers } : headers;
  return json({ error: e.code, detail: e.detail, ...e.extra }, e.status, all);
}
