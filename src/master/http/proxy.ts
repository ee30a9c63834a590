/**
 * A follower's API answers come from the leader: the request is sent on as
 * it came (token included) and the leader's answer, streamed bodies too,
 * goes back. A request that was forwarded once is never forwarded again
 * (leadership moving under it): it gets a 503 saying whom to ask.
 */
import { explainFailure, type PeerLink } from "../../config/index.ts";
import { HttpError, errorResponse } from "./errors.ts";

const FORWARDED_HEADER = "x-lava-forwarded-by";
/** Which master answered (the leader, for a forwarded request; a follower answering a live read itself). */
export const SERVED_BY_HEADER = "x-lava-served-by";

export async function proxyToLeader(req: Request, url: URL, leader: string | null, selfId: number, peers: PeerLink): Promise<Response> {
  if (!leader || req.headers.has(FORWARDED_HEADER)) {
    return errorResponse(new HttpError(503, "not_leader", leader ? `this master is a follower; ask the leader at ${leader}` : "no leader is elected right now (an election is under way, or no majority of masters is up); retry shortly", { leader }));
  }
  const headers = new Headers(req.headers);
  headers.delete("host");
  headers.delete("content-length");
  headers.set(FORWARDED_HEADER, String(selfId));
  let res: Response;
  try {
    res = await fetch(`${peers.scheme}://${leader}${url.pathname}${url.search}`, {
      tls: peers.tls,
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer(),
      redirect: "manual",
    });
  } catch (e) {
    return errorResponse(new HttpError(503, "not_leader", `the leader at ${leader} did not answer (${explainFailure(e, peers.scheme, "master.tls.ca")}); retry shortly`, { leader }));
  }
  const out = new Headers(res.headers);
  // fetch() has already decoded the body.
  out.delete("content-encoding");
  out.delete("content-length");
  out.set(SERVED_BY_HEADER, leader);
  return new Response(res.body, { status: res.status, headers: out });
}
