/**
 * Session tokens (issue 14; docs/security.md): at registration the master
 * issues a short-lived token bound to the host and its key; the agent
 * refreshes it over the channel and reconnects with it. Across several
 * expiries the agent stays connected; revoking its join token does not cut
 * it off; revoking the host's sessions does (and, the join token being
 * revoked, it cannot come back); a reconnect after a master restart resumes
 * the session without a write.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { audit, ctl, host, mint, refused } from "../security/lib.ts";
import { teardown } from "../helpers/teardown.ts";

const TTL_S = 3;
let master: TestMaster;
const agents: Proc[] = [];
const work = tempDir("lava-session-");

beforeAll(async () => {
  master = await TestMaster.start({ config: `master:\n  reportInterval: 1\n  sessionTokenTtl: ${TTL_S}\n` });
}, 20_000);

afterAll(() => teardown({ clients: [...agents], masters: [master], work }));

const registrations = async (name: string) => (await audit(master, "host.register")).filter((r) => r.target === name && r.result === "ok").length;

function agent(name: string, token: string): Proc {
  const p = startAgent(master, { hostname: name, token, procRoot: writeProcFixture(join(work, `proc-${name}`)), stateDir: join(work, `state-${name}`) });
  agents.push(p);
  return p;
}

describe("session tokens", () => {
  test("refreshed across expiries: the session stays up; revoking the join token does not cut it off; revoking the host's sessions does", async () => {
    const join_ = await mint(master, { role: "agent" });
    const a = agent("sess-a", join_.token);
    await waitFor(async () => (await host(master, "sess-a"))?.status === "ok", 15_000, "sess-a ok");
    const id = (await host(master, "sess-a"))!.hostId;
    const regs = await registrations("sess-a");
    // Three lifetimes of the session token: refreshed over the channel each half-life, never expired.
    await Bun.sleep(3 * TTL_S * 1000);
    expect(await host(master, "sess-a")).toMatchObject({ hostId: id, connected: true, status: "ok" });
    expect(await refused(master, "token_expired")).toBe(0);
    expect(await registrations("sess-a")).toBe(regs);

    // The join token revoked: the registered host is governed by its session token and stays.
    expect((await ctl(master, ["token", "revoke", join_.jti])).code).toBe(0);
    await Bun.sleep(1500);
    expect(await host(master, "sess-a")).toMatchObject({ connected: true, status: "ok" });

    // Revoking the host's sessions ends it now; with the join token revoked it cannot register again.
    const r = await ctl(master, ["host", "revoke-sessions", "sess-a"]);
    expect(r.code).toBe(0);
    await waitFor(async () => (await host(master, "sess-a"))?.connected === false, 1000, "sess-a disconnected within 1 s");
    expect((await audit(master, "host.revoke-sessions")).at(-1)).toMatchObject({ target: "sess-a", result: "ok" });
    await waitFor(() => a.text.includes("dropping the session token"), 5000, "the agent dropped its session token");
    await Bun.sleep(1500);
    expect((await host(master, "sess-a"))!.connected).toBe(false);
  }, 40_000);

  test("after a master restart the agent resumes with its session token: no new host.register is written", async () => {
    const join_ = await mint(master, { role: "agent" });
    agent("sess-b", join_.token);
    await waitFor(async () => (await host(master, "sess-b"))?.status === "ok", 15_000, "sess-b ok");
    const regs = await registrations("sess-b");
    const id = (await host(master, "sess-b"))!.hostId;
    await master.stop();
    await master.restart();
    await waitFor(async () => (await host(master, "sess-b"))?.connected === true, 10_000, "sess-b back");
    expect((await host(master, "sess-b"))!.hostId).toBe(id);
    expect(await registrations("sess-b")).toBe(regs);
    const metrics = (await master.api<string>("/metrics")).body;
    expect(Number(/lava_control_resumed_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    // Its reports keep verifying (seq continues above what the master accepted).
    await waitFor(async () => (await host(master, "sess-b"))?.status === "ok", 10_000, "sess-b ok after the restart");
  }, 40_000);
});
