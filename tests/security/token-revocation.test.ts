/**
 * Issue 11, item 6: a revoked or expired token used to keep its WebSocket
 * (and could register more hosts on it). Now the connections a token
 * governs are closed within a second of its revocation or expiry, and the
 * token opens no new one. (A keyed agent's connection is governed by its
 * session token once registered: revoking the join token leaves it up;
 * tests/e2e/session-tokens.test.ts holds that side.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TestMaster } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { RawAgent } from "../master/raw-agent.ts";
import { audit, ctl, host, mint, refused } from "./lib.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;

beforeAll(async () => {
  // allow-missing: an agent from before host keys (unkeyed) is governed by its join token for its whole session.
  master = await TestMaster.start({ config: "master:\n  hostKeys: allow-missing\n" });
}, 20_000);

afterAll(() => teardown({ masters: [master] }));

async function upgradeStatus(token: string): Promise<number> {
  const res = await fetch(`http://${master.addr}/ws?token=${token}`, { headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
  return res.status;
}

describe("revoked and expired tokens end their sessions", () => {
  test("revoking a token closes, within a second, a connection still registering and an unkeyed session opened with it", async () => {
    const t = await mint(master, { role: "agent" });
    const idle = await RawAgent.open(master.addr, t.token, "idle");
    const old = await RawAgent.connect({ addr: master.addr, adminToken: t.token }, "old-agent", "0.0.1-old", { key: null });
    expect((await host(master, "old-agent"))!.connected).toBe(true);
    const before = await refused(master, "token_revoked");
    const t0 = performance.now();
    expect((await ctl(master, ["token", "revoke", t.jti])).code).toBe(0);
    await waitFor(() => idle.closed && old.closed, 2000, "both connections closed");
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(idle.closeCode).toBe(4007);
    expect(old.closeCode).toBe(4007);
    expect(await refused(master, "token_revoked")).toBe(before + 2);
    expect((await host(master, "old-agent"))!.connected).toBe(false);
    expect((await audit(master, "token.revoke")).at(-1)).toMatchObject({ target: t.jti, result: "ok" });
    // And it opens nothing new.
    expect(await upgradeStatus(t.token)).toBe(401);
  });

  test("an expiring token's connection is closed within a second of its expiry", async () => {
    const t = await mint(master, { role: "agent", ttlSeconds: 2 });
    const a = await RawAgent.open(master.addr, t.token, "short-lived");
    const expiresMs = (JSON.parse(Buffer.from(t.token.split(".")[1]!, "base64url").toString()) as { exp: number }).exp * 1000;
    await waitFor(() => a.closed, 5000, "closed at expiry");
    expect(Date.now() - expiresMs).toBeLessThan(1000);
    expect(a.closeCode).toBe(4007);
    expect(await upgradeStatus(t.token)).toBe(401);
  }, 10_000);
});
