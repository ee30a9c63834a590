import { exitStatusOf } from "../../src/main.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { EXIT } from "../../src/cli/errors.ts";
import { LavaError } from "../../src/errors.ts";
import { MasterClient, MasterError } from "../../src/ctl/client.ts";
import { apiError, closedPort, hanging, json, LOAD_ROWS, serve, type Fake } from "./fake-master.ts";

const started: Fake[] = [];
async function fake(...args: Parameters<typeof serve>): Promise<Fake> {
  const f = await serve(...args);
  started.push(f);
  return f;
}
afterAll(async () => {
  await Promise.all(started.map((f) => f.stop()));
});

async function failure(p: Promise<unknown>): Promise<LavaError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof LavaError) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
}

describe("MasterClient", () => {
  test("fails over from a refused port to a live master", async () => {
    const dead = await closedPort();
    const live = await fake(() => json(LOAD_ROWS));
    const client = new MasterClient({ masters: [dead, live.addr], timeoutMs: 2000 });
    expect(await client.get("/api/v1/load")).toEqual(LOAD_ROWS);
    expect(live.seen).toHaveLength(1);
  });

  test("all masters down: exit 3, naming each and why", async () => {
    const a = await closedPort();
    const b = await closedPort();
    const client = new MasterClient({ masters: [a, b], timeoutMs: 2000 });
    const e = await failure(client.get("/api/v1/load"));
    expect(exitStatusOf(e)).toBe(EXIT.unreachable);
    expect(e.message).toContain("no master reachable");
    expect(e.message).toContain(`127.0.0.1:${a.port} (connection refused)`);
    expect(e.message).toContain(`127.0.0.1:${b.port} (connection refused)`);
  });

  test("a master that does not answer in time is skipped for the next", async () => {
    const slow = await hanging();
    started.push(slow);
    const live = await fake(() => json({ ok: true }));
    const client = new MasterClient({ masters: [slow.addr, live.addr], timeoutMs: 150 });
    const t0 = performance.now();
    expect(await client.get("/api/v1/status")).toEqual({ ok: true });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(slow.seen).toHaveLength(1);
  });

  test("a lone master that times out is exit 3 and says so", async () => {
    const slow = await hanging();
    started.push(slow);
    const e = await failure(new MasterClient({ masters: [slow.addr], timeoutMs: 100 }).get("/api/v1/load"));
    expect(exitStatusOf(e)).toBe(EXIT.unreachable);
    expect(e.message).toContain("no answer within 0.1 s");
  });

  test("sends Authorization: Bearer when a token is set, and none otherwise", async () => {
    const m = await fake(() => json([]));
    await new MasterClient({ masters: [m.addr], token: "t0k", timeoutMs: 2000 }).get("/api/v1/load");
    await new MasterClient({ masters: [m.addr], timeoutMs: 2000 }).get("/api/v1/load");
    expect(m.seen.map((s) => s.authorization)).toEqual(["Bearer t0k", null]);
  });

  test("post sends a JSON body", async () => {
    const m = await fake(() => json({ token: "x" }));
    await new MasterClient({ masters: [m.addr], timeoutMs: 2000 }).post("/api/v1/tokens", { role: "read" });
    expect(m.seen[0]).toMatchObject({ method: "POST", path: "/api/v1/tokens", body: { role: "read" } });
  });

  test("401 is exit 1 and tells the user to check the token", async () => {
    const m = await fake(() => apiError(401, "unauthorized", "bad token"));
    const withToken = await failure(new MasterClient({ masters: [m.addr], token: "wrong", timeoutMs: 2000 }).get("/api/v1/load"));
    expect(exitStatusOf(withToken)).toBe(EXIT.failed);
    expect(withToken.message).toContain("bad token");
    expect(withToken.message).toContain("--token");
    const without = await failure(new MasterClient({ masters: [m.addr], timeoutMs: 2000 }).get("/api/v1/load"));
    expect(without.message).toContain("no token given");
  });

  test("403 is exit 1 and mentions the role", async () => {
    const m = await fake(() => apiError(403, "forbidden", "role read may not do this"));
    const e = await failure(new MasterClient({ masters: [m.addr], token: "r", timeoutMs: 2000 }).post("/api/v1/tokens", { role: "admin" }));
    expect(exitStatusOf(e)).toBe(EXIT.failed);
    expect(e.message).toContain("role read may not do this");
    expect(e.message).toContain("the token's role");
  });

  test("400 is exit 1 with the master's detail, and is not retried on the next master", async () => {
    const a = await fake(() => apiError(400, "bad_request", "ttlSeconds must be positive"));
    const b = await fake(() => json({}));
    const e = await failure(new MasterClient({ masters: [a.addr, b.addr], timeoutMs: 2000 }).post("/api/v1/tokens", { role: "read", ttlSeconds: -1 }));
    expect(e).toBeInstanceOf(MasterError);
    expect(exitStatusOf(e)).toBe(EXIT.failed);
    expect(e.message).toBe("ttlSeconds must be positive");
    expect((e as MasterError).status).toBe(400);
    expect((e as MasterError).code).toBe("bad_request");
    expect(b.seen).toHaveLength(0);
  });

  test("5xx moves on to the next master", async () => {
    const a = await fake(() => apiError(500, "internal", "oops"));
    const b = await fake(() => json([1]));
    expect(await new MasterClient({ masters: [a.addr, b.addr], timeoutMs: 2000 }).get("/x")).toEqual([1]);
  });

  test("a 503 from the last master is its answer (exit 1 with its detail), not 'unreachable'", async () => {
    const dead = await closedPort();
    const b = await fake(() => apiError(503, "not_ready", "master is starting"));
    const e = await failure(new MasterClient({ masters: [dead, b.addr], timeoutMs: 2000 }).get("/api/v1/load"));
    expect(exitStatusOf(e)).toBe(EXIT.failed);
    expect(e.message).toContain("master is starting");
    expect(e.message).toContain("connection refused");
  });

  test("5xx from every master, the last not a 503: exit 3 listing the statuses", async () => {
    const a = await fake(() => apiError(503, "not_ready", "starting"));
    const b = await fake(() => apiError(500, "internal", "broken"));
    const e = await failure(new MasterClient({ masters: [a.addr, b.addr], timeoutMs: 2000 }).get("/x"));
    expect(exitStatusOf(e)).toBe(EXIT.unreachable);
    expect(e.message).toContain("HTTP 503: starting");
    expect(e.message).toContain("HTTP 500: broken");
  });

  test("later requests start at the master that answered", async () => {
    const a = await fake(() => apiError(500, "internal", "down"));
    const b = await fake(() => json([]));
    const client = new MasterClient({ masters: [a.addr, b.addr], timeoutMs: 2000 });
    await client.get("/1");
    await client.get("/2");
    expect(a.seen.map((s) => s.path)).toEqual(["/1"]);
    expect(b.seen.map((s) => s.path)).toEqual(["/1", "/2"]);
  });

  test("a redirect to the leader is followed with the token", async () => {
    const leader = await fake(() => json({ token: "minted" }));
    const follower = await fake(() => new Response(null, { status: 307, headers: { location: `http://${leader.text}/api/v1/tokens` } }));
    const answer = await new MasterClient({ masters: [follower.addr], token: "adm", timeoutMs: 2000 }).post("/api/v1/tokens", { role: "read" });
    expect(answer).toEqual({ token: "minted" });
    expect(leader.seen[0]).toMatchObject({ method: "POST", authorization: "Bearer adm", body: { role: "read" } });
  });

  test("a 2xx answer that is not JSON is exit 1 asking whether this is a lava master", async () => {
    const m = await fake(() => new Response("<html>hello</html>"));
    const e = await failure(new MasterClient({ masters: [m.addr], timeoutMs: 2000 }).get("/api/v1/load"));
    expect(exitStatusOf(e)).toBe(EXIT.failed);
    expect(e.message).toContain("not JSON");
  });

  test("a 4xx without a JSON body still gives a message", async () => {
    const m = await fake(() => new Response("nope", { status: 404, statusText: "Not Found" }));
    const e = await failure(new MasterClient({ masters: [m.addr], timeoutMs: 2000 }).get("/api/v1/nothing"));
    expect(exitStatusOf(e)).toBe(EXIT.failed);
    expect(e.message).toBe("HTTP 404 Not Found");
  });
});
