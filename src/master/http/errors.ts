/** One error type for the HTTP API: status, short code, and a detail that says what to do. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = "HttpError";
  }
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function errorResponse(e: HttpError, headers: Record<string, string> = {}): Response {
  return json({ error: e.code, detail: e.detail }, e.status, headers);
}
