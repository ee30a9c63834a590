/**
 * Issue 11, item 5: one connection once registered 50,000 durable fake
 * hosts. Now one connection registers one host, once; registrations that
 * write are rate-limited per token and per source address; master.maxHosts
 * caps the table with a clear refusal; and an admin clears fakes in bulk
 * (`lava ctl host remove --pattern`, `--unseen-for`), audited.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TestMaster } from "../helpers/cluster.ts";
import { newHostKey, signedRegister } from "../helpers/host-key.ts";
import { waitFor } from "../helpers/wait.ts";
import { RawAgent, type Msg } from "../master/raw-agent.ts";
import { audit, ctl, host, lastIndex, mint, refused, type Row } from "./lib.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
const hw = { hardware: { ncpus: 1, memBytes: 1e9, gpus: 0 }, reportPort: 40000, version: "fake" };

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  maxHosts: 12\n  registrations:\n    perToken: 1\n    perAddress: 100\n    burst: 6\n" });
}, 20_000);

afterAll(() => teardown({ masters: [master] }));

async function register(hostname: string, token: string): Promise<{ answer: Msg; agent: RawAgent }> {
  const a = await RawAgent.open(master.addr, token, hostname);
  a.send(await signedRegister({ hostname, ...hw }, await RawAgent.keyFor(hostname), token));
  const answer = await a.next((m) => m.type === "registered" || m.type === "error");
  return { answer, agent: a };
}

describe("registration limits", () => {
  test("one connection registers one host, once: a second register on it is refused and the connection closed", async () => {
    const token = (await mint(master, { role: "agent" })).token;
    const { answer, agent } = await register("fake-conn-1", token);
    expect(answer.type).toBe("registered");
    const idx = await lastIndex(master);
    agent.send(await signedRegister({ hostname: "fake-conn-2", ...hw }, await newHostKey(), token));
    const err = await agent.next((m) => m.type === "error");
    expect(err).toMatchObject({ error: "forbidden" });
    await waitFor(() => agent.closed, 5000, "closed");
    expect(agent.closeCode).toBe(4003);
    expect(await host(master, "fake-conn-2")).toBeUndefined();
    expect(await lastIndex(master)).toBe(idx);
    expect(await refused(master, "one_host_per_connection")).toBe(1);
  });

  test("registrations per token are rate-limited (burst, then the rate): refused with close 4029, nothing written", async () => {
    const token = (await mint(master, { role: "agent" })).token;
    const results: string[] = [];
    const agents: RawAgent[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await register(`fake-rate-${i}`, token);
      results.push(r.answer.type === "registered" ? "ok" : String(r.answer.error));
      agents.push(r.agent);
    }
    // The burst (6) goes through; then at most one a second.
    expect(results.filter((x) => x === "ok").length).toBeGreaterThanOrEqual(6);
    expect(results.filter((x) => x === "rate_limited").length).toBeGreaterThanOrEqual(2);
    const limited = agents[results.indexOf("rate_limited")]!;
    await waitFor(() => limited.closed, 5000, "closed");
    expect(limited.closeCode).toBe(4029);
    expect(await refused(master, "rate_limited")).toBeGreaterThanOrEqual(2);
    for (const a of agents) await a.close();
  }, 20_000);

  test("master.maxHosts caps the table with a clear refusal", async () => {
    const token = (await mint(master, { role: "agent" })).token;
    let answer: Msg = {};
    for (let i = 0; i < 20 && answer.error !== "too_many_hosts"; i++) {
      answer = (await register(`fake-max-${i}`, token)).answer;
      if (answer.error === "rate_limited") await Bun.sleep(1100);
    }
    expect(answer).toMatchObject({ type: "error", error: "too_many_hosts" });
    expect(String(answer.detail)).toContain("master.maxHosts is 12");
    const hosts = (await master.api<Row[]>("/api/v1/hosts")).body;
    expect(hosts.length).toBe(12);
  }, 40_000);

  test("lava ctl host remove --pattern / --unseen-for clears fakes in bulk, audited; --dry-run removes nothing", async () => {
    const dry = await ctl(master, ["host", "remove", "--pattern", "fake-rate-*", "--dry-run", "--json"]);
    expect(dry.code).toBe(0);
    const matched = (JSON.parse(dry.stdout) as { matched: string[] }).matched;
    expect(matched.length).toBeGreaterThan(0);
    expect((await master.api<Row[]>("/api/v1/hosts")).body.filter((h) => String(h.host).startsWith("fake-rate-")).length).toBe(matched.length);
    const r = await ctl(master, ["host", "remove", "--pattern", "fake-rate-*"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`removed ${matched.length} host(s)`);
    expect((await master.api<Row[]>("/api/v1/hosts")).body.filter((h) => String(h.host).startsWith("fake-rate-"))).toEqual([]);
    expect((await audit(master, "host.remove-many")).at(-1)).toMatchObject({ target: "pattern fake-rate-*", result: "ok", role: "admin" });
    // Unseen for 1 s: every host without a channel (all of them: their connections are closed), none with one.
    const keep = await register("fake-live", (await mint(master, { role: "agent" })).token);
    await Bun.sleep(1200);
    const u = await ctl(master, ["host", "remove", "--unseen-for", "1s", "--json"]);
    expect(u.code).toBe(0);
    const removed = (JSON.parse(u.stdout) as { removed: string[] }).removed;
    expect(removed.length).toBeGreaterThan(0);
    expect(removed).not.toContain("fake-live");
    expect((await master.api<Row[]>("/api/v1/hosts")).body.map((h) => h.host)).toContain("fake-live");
    await keep.agent.close();
    // Usage errors exit 2.
    expect((await ctl(master, ["host", "remove"])).code).toBe(2);
    expect((await ctl(master, ["host", "remove", "x", "--pattern", "y"])).code).toBe(2);
    expect((await ctl(master, ["host", "remove", "--unseen-for", "soon"])).code).toBe(2);
  }, 20_000);
});
