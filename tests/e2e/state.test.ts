/**
 * Durable state through the compiled master: roles on every route, token
 * revocation, drain/resume and host ids surviving a restart, the audit log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TestMaster } from "../helpers/cluster.ts";
import { signedRegister } from "../helpers/host-key.ts";
import { RawAgent } from "../master/raw-agent.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
let read: string;
let agent: string;

async function mint(role: string, extra: Record<string, unknown> = {}): Promise<{ token: string; jti: string }> {
  const r = await master.api<{ token: string; jti: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role, ...extra }) });
  expect(r.status).toBe(201);
  return r.body;
}

async function registerHost(hostname: string, token = master.adminToken): Promise<{ ws: WebSocket; hostId: number }> {
  const msg = await signedRegister({ hostname, hardware: { ncpus: 2, memBytes: 4e9, gpus: 1, os: "linux" }, reportPort: 9, version: "t1" }, await RawAgent.keyFor(hostname), token);
  const ws = new WebSocket(`ws://${master.addr}/ws?token=${token}`);
  const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify(msg));
    ws.onmessage = (e) => resolve(JSON.parse(String(e.data)));
    ws.onerror = () => reject(new Error("ws error"));
    ws.onclose = (e) => reject(new Error(`closed ${e.code} ${e.reason}`));
  });
  if (reply.type !== "registered") throw new Error(JSON.stringify(reply));
  return { ws, hostId: reply.hostId as number };
}

beforeAll(async () => {
  master = await TestMaster.start();
  read = (await mint("read")).token;
  agent = (await mint("agent")).token;
}, 20_000);

afterAll(() => teardown({ masters: [master] }));

// Every route with the role it needs. A route missing here is a route nobody checked.
const ROUTES: { method: string; path: string; need: "read" | "admin"; body?: unknown }[] = [
  { method: "GET", path: "/api/v1/load", need: "read" },
  { method: "GET", path: "/api/v1/hosts", need: "read" },
  { method: "GET", path: "/api/v1/hosts/role-host", need: "read" },
  { method: "GET", path: "/api/v1/status", need: "read" },
  { method: "GET", path: "/api/v1/tokens", need: "admin" },
  { method: "POST", path: "/api/v1/tokens", need: "admin", body: { role: "read" } },
  { method: "DELETE", path: "/api/v1/tokens/some-id", need: "admin" },
  { method: "POST", path: "/api/v1/hosts/role-host/drain", need: "admin", body: {} },
  { method: "POST", path: "/api/v1/hosts/role-host/resume", need: "admin" },
  { method: "DELETE", path: "/api/v1/hosts/nobody", need: "admin" },
  { method: "GET", path: "/api/v1/audit", need: "admin" },
];

describe("roles on every route", () => {
  beforeAll(async () => {
    (await registerHost("role-host")).ws.close();
  });

  for (const r of ROUTES) {
    test(`${r.method} ${r.path}: no token 401, agent 403, read ${r.need === "read" ? "allowed" : "403"}, admin allowed`, async () => {
      const call = (token: string | null) => master.api(r.path, { method: r.method, token, ...(r.body ? { body: JSON.stringify(r.body) } : {}) });
      expect((await call(null)).status).toBe(401);
      expect((await call(agent)).status).toBe(403);
      const asRead = await call(read);
      if (r.need === "read") expect(asRead.status).toBe(200);
      else expect(asRead.status).toBe(403);
      const asAdmin = await call(master.adminToken);
      expect([200, 201, 404]).toContain(asAdmin.status);
    });
  }

  test("/ws: a read token cannot register, an agent token can, an agent token bound to another host cannot", async () => {
    await expect(registerHost("ws-role", read)).rejects.toThrow();
    const ok = await registerHost("ws-role", agent);
    expect(ok.hostId).toBeGreaterThan(0);
    ok.ws.close();
    const bound = (await mint("agent", { host: "only-this" })).token;
    await expect(registerHost("someone-else", bound)).rejects.toThrow(/bound|4003/);
    (await registerHost("only-this", bound)).ws.close();
  });
});

describe("tokens", () => {
  test("a revoked token stops working at once, and after a restart", async () => {
    const t = await mint("read", { subject: "to-revoke" });
    expect((await master.api("/api/v1/load", { token: t.token })).status).toBe(200);
    const rev = await master.api(`/api/v1/tokens/${t.jti}`, { method: "DELETE" });
    expect(rev.status).toBe(200);
    const after = await master.api<{ error: string }>("/api/v1/load", { token: t.token });
    expect(after.status).toBe(401);
    expect(after.body.error).toBe("revoked_token");
    const list = (await master.api<{ jti: string; revokedAt: string | null; subject: string }[]>("/api/v1/tokens")).body;
    expect(list.find((x) => x.jti === t.jti)?.revokedAt).not.toBeNull();
    expect(list.some((x) => x.subject === "admin" && x.revokedAt === null)).toBe(true);

    await master.stop();
    await master.restart();
    expect((await master.api("/api/v1/load", { token: t.token })).status).toBe(401);
    expect((await master.api("/api/v1/load", { token: read })).status).toBe(200);
  }, 20_000);
});

describe("hosts", () => {
  test("drain and resume persist across a restart, and the hostId stays", async () => {
    const { ws, hostId } = await registerHost("durable-1");
    ws.close();
    expect((await master.api("/api/v1/hosts/durable-1/drain", { method: "POST", body: JSON.stringify({ reason: "disk swap" }) })).status).toBe(200);
    expect((await master.api<{ drained: boolean; status: string }>("/api/v1/hosts/durable-1")).body.drained).toBe(true);
    await master.stop();
    await master.restart();
    const h = (await master.api<{ hostId: number; drained: boolean; ncpus: number; gpus: number }>("/api/v1/hosts/durable-1")).body;
    expect(h).toMatchObject({ hostId, drained: true, ncpus: 2, gpus: 1 });
    const again = await registerHost("durable-1");
    expect(again.hostId).toBe(hostId);
    again.ws.close();
    expect((await master.api("/api/v1/hosts/durable-1/resume", { method: "POST" })).status).toBe(200);
    expect((await master.api<{ drained: boolean }>("/api/v1/hosts/durable-1")).body.drained).toBe(false);
    // New hosts continue the id sequence after a restart.
    const next = await registerHost("durable-2");
    expect(next.hostId).toBeGreaterThan(hostId);
    next.ws.close();
  }, 20_000);

  test("unknown hosts are 404 with a reason; remove takes a host out and closes its session", async () => {
    const r = await master.api<{ error: string; detail: string }>("/api/v1/hosts/ghost/drain", { method: "POST" });
    expect(r.status).toBe(404);
    expect(r.body.detail).toContain("ghost");
    const { ws } = await registerHost("to-remove");
    const closed = new Promise<number>((res) => ws.addEventListener("close", (e) => res(e.code)));
    expect((await master.api("/api/v1/hosts/to-remove", { method: "DELETE" })).status).toBe(200);
    expect(await closed).toBe(4003);
    expect((await master.api("/api/v1/hosts/to-remove")).status).toBe(404);
  }, 10_000);
});

describe("audit", () => {
  test("state changes, refusals and bad requests are audited with who, role, what, target and result", async () => {
    await master.api("/api/v1/hosts/ghost2/drain", { method: "POST" }); // refused by the state machine
    await master.api("/api/v1/hosts/role-host/drain", { method: "POST", token: read }); // wrong role
    await master.api("/api/v1/tokens", { method: "POST", body: "{not json" }); // bad request
    type Row = { actor: string; role: string; action: string; target: string | null; result: string; at: string; logIdx: number };
    const rows = await waitFor(async () => {
      const a = (await master.api<Row[]>("/api/v1/audit?since=1h")).body;
      return a.some((x) => x.result.startsWith("refused: 400")) ? a : null;
    }, 3000, "audit rows");
    expect(rows.find((x) => x.action === "host.drain" && x.target === "ghost2")).toMatchObject({ actor: "admin", role: "admin" });
    expect(rows.find((x) => x.action === "host.drain" && x.target === "ghost2")!.result).toContain("refused");
    expect(rows.find((x) => x.action === "host.drain" && x.result.startsWith("refused: 403"))).toMatchObject({ role: "read", target: "role-host" });
    expect(rows.find((x) => x.action === "token.create" && x.result.startsWith("refused: 400"))).toBeDefined();
    expect(rows.find((x) => x.action === "token.revoke" && x.result === "ok")).toBeDefined();
    expect(rows.find((x) => x.action === "host.register")).toMatchObject({ result: "ok" });
    // logIdx is unique: no entry applied twice.
    expect(new Set(rows.map((x) => x.logIdx)).size).toBe(rows.length);
    const bad = await master.api<{ detail: string }>("/api/v1/audit?since=yesterday");
    expect(bad.status).toBe(400);
    expect((await master.api<Row[]>("/api/v1/audit?limit=2")).body).toHaveLength(2);
  }, 10_000);
});

describe("sessions survive a master restart", () => {
  test("reports signed with the session key from before the restart are accepted at once (host unreach until it reconnects)", async () => {
    const { createHmac } = await import("node:crypto");
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1" });
    try {
      const msg = await signedRegister({ hostname: "keeps-key", hardware: { ncpus: 2, memBytes: 4e9 }, reportPort: sock.port, version: "t" }, await RawAgent.keyFor("keeps-key"), master.adminToken);
      const ws = new WebSocket(`ws://${master.addr}/ws?token=${master.adminToken}`);
      const reply = await new Promise<Record<string, unknown>>((resolve) => {
        ws.onopen = () => ws.send(JSON.stringify(msg));
        ws.onmessage = (e) => resolve(JSON.parse(String(e.data)));
      });
      const hostId = reply.hostId as number;
      const key = Buffer.from(reply.sessionKey as string, "base64");
      const report = (seq: number) => {
        const buf = new Uint8Array(148);
        const dv = new DataView(buf.buffer);
        dv.setUint32(0, 11);
        dv.setUint32(4, 136);
        dv.setUint32(8, 1);
        dv.setUint32(12, hostId);
        dv.setUint32(16, seq);
        [0.75, 0.5, 0.25, 1e9, 3e9, 0, 0, 2, 10, 5, 85].forEach((x, i) => dv.setFloat64(44 + 8 * i, x));
        buf.set(createHmac("sha256", key).update(buf.subarray(0, 20)).update(buf.subarray(44)).digest().subarray(0, 24), 20);
        return buf;
      };
      ws.close();
      await master.stop();
      await master.restart();
      sock.send(report(1), master.run.udpPort, "127.0.0.1");
      type Load = { host: string; load1: number | null; status: string };
      const h = await waitFor(async () => {
        const l = (await master.api<Load[]>("/api/v1/load")).body.find((x) => x.host === "keeps-key");
        return l && l.load1 !== null ? l : null;
      }, 5000, "the old session's report accepted");
      expect(h).toMatchObject({ load1: 0.75, status: "unreach" });
      const st = (await master.api<{ ingest: { dropped: Record<string, number> } }>("/api/v1/status")).body;
      expect(st.ingest.dropped.unknown_host).toBe(0);
      expect(st.ingest.dropped.bad_tag).toBe(0);
    } finally {
      sock.close();
    }
  }, 20_000);
});

