/**
 * Issue 11, item 4: the shared agent token must not let one host pose as
 * another. A real agent binds its host key at first registration (trust on
 * first use); an impostor with the same token but another key is refused
 * (close 4006, a message naming `lava ctl host reset-key`), audited at a
 * bounded rate, and the real agent keeps its session. Proofs cannot be
 * replayed, moved to another token, or made stale; a register without a key
 * is refused. `host reset-key` (admin, audited) re-enrolls; host-bound
 * tokens keep working.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { newHostKey, signedRegister } from "../helpers/host-key.ts";
import { waitFor } from "../helpers/wait.ts";
import { RawAgent, type Msg } from "../master/raw-agent.ts";
import { audit, ctl, host, lastIndex, mint, refused, type Row } from "./lib.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
let real: Proc;
let agentToken: string;
const work = tempDir("lava-sec-identity-");
const hw = { hardware: { ncpus: 2, memBytes: 4e9, gpus: 0 }, reportPort: 40000, version: "evil" };

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n" });
  agentToken = (await mint(master, { role: "agent" })).token;
  real = startAgent(master, { hostname: "realhost", token: agentToken, procRoot: writeProcFixture(join(work, "proc")), stateDir: join(work, "realhost-state") });
  await waitFor(async () => (await host(master, "realhost"))?.status === "ok", 15_000, "realhost ok");
}, 30_000);

afterAll(() => teardown({ clients: [real], masters: [master], work }));

/** Opens a connection with `token`, sends `msg`, and returns the answer and how the connection closed. */
async function attempt(msg: unknown, token: string | null = agentToken): Promise<{ answer: Msg; code: number; agent: RawAgent }> {
  const a = await RawAgent.open(master.addr, token, "impostor");
  a.send(msg);
  const answer = await a.next((m) => m.type === "registered" || m.type === "error");
  if (answer.type === "error") await waitFor(() => a.closed, 5000, "closed after the refusal");
  return { answer, code: a.closeCode, agent: a };
}

describe("host identity: trust on first use", () => {
  test("the real agent bound its key at first registration; it shows in ctl hosts --json", async () => {
    const h = await host(master, "realhost");
    expect(String(h!.hostKey)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(h!.connected).toBe(true);
  });

  test("an impostor with the shared token and another key is refused, audited once per minute, and the real session stays", async () => {
    const h0 = await host(master, "realhost");
    const before = { n: await refused(master, "host_key_mismatch"), rows: (await audit(master, "host.register")).filter((r) => String(r.result).includes("mismatch")).length };
    for (let i = 0; i < 5; i++) {
      const r = await attempt(await signedRegister({ hostname: "realhost", ...hw }, await newHostKey(), agentToken));
      expect(r.answer).toMatchObject({ type: "error", error: "forbidden" });
      expect(String(r.answer.detail)).toContain("lava ctl host reset-key realhost");
      expect(r.code).toBe(4006);
    }
    expect(await refused(master, "host_key_mismatch")).toBe(before.n + 5);
    // One audit row for the burst (rate-limited per host name), with who tried.
    await waitFor(async () => (await audit(master, "host.register")).filter((r) => String(r.result).includes("mismatch")).length === before.rows + 1, 5000, "one audit row");
    const row = (await audit(master, "host.register")).filter((r) => String(r.result).includes("mismatch")).at(-1)!;
    expect(row).toMatchObject({ target: "realhost", role: "agent", result: "refused: host key mismatch" });
    // The real agent's session was never replaced: same id, still connected, still reporting.
    const h1 = await host(master, "realhost");
    expect(h1).toMatchObject({ hostId: h0!.hostId, connected: true, hostKey: h0!.hostKey, version: h0!.version });
  }, 20_000);

  test("a register without a key is refused (master.hostKeys: require), and nothing is written", async () => {
    const idx = await lastIndex(master);
    const r = await attempt({ type: "register", hostname: "nokey-host", ...hw });
    expect(r.answer).toMatchObject({ type: "error", error: "forbidden" });
    expect(String(r.answer.detail)).toContain("hostKeys: allow-missing");
    expect(await host(master, "nokey-host")).toBeUndefined();
    expect(await lastIndex(master)).toBe(idx);
  });

  test("a proof cannot be replayed, moved to another token, or used outside the time window", async () => {
    const key = await newHostKey();
    const msg = await signedRegister({ hostname: "proof-host", ...hw }, key, agentToken);
    const first = await attempt(msg);
    expect(first.answer.type).toBe("registered");
    await first.agent.close();
    const replay = await attempt(msg);
    expect(replay.answer).toMatchObject({ type: "error", error: "forbidden" });
    expect(String(replay.answer.detail)).toContain("used before");
    // The same signed message on a connection with another token: the proof binds the token's hash.
    const other = (await mint(master, { role: "agent" })).token;
    const moved = await attempt(await signedRegister({ hostname: "proof-host", ...hw }, key, agentToken), other);
    expect(String(moved.answer.detail)).toContain("does not verify");
    const stale = await attempt(await signedRegister({ hostname: "proof-host", ...hw }, key, agentToken, { atMs: Date.now() - 10 * 60_000 }));
    expect(String(stale.answer.detail)).toContain("clock");
    const forged = await attempt({ ...(await signedRegister({ hostname: "proof-host", ...hw }, key, agentToken)), hostname: "realhost" });
    expect(String(forged.answer.detail)).toContain("does not verify");
    expect(await refused(master, "replayed_proof")).toBeGreaterThanOrEqual(1);
    expect(await refused(master, "stale_proof")).toBeGreaterThanOrEqual(1);
  }, 20_000);

  test("host-bound tokens keep working, and bind the key too", async () => {
    const bound = (await mint(master, { role: "agent", host: "bound-host" })).token;
    const a = await RawAgent.connect({ addr: master.addr, adminToken: bound }, "bound-host");
    expect(a.hostId).toBeGreaterThan(0);
    expect(String((await host(master, "bound-host"))!.hostKey)).toMatch(/^SHA256:/);
    await a.close();
    const wrong = await attempt(await signedRegister({ hostname: "not-bound-host", ...hw }, await newHostKey(), bound), bound);
    expect(String(wrong.answer.detail)).toContain("bound to host 'bound-host'");
  });

  test("lava ctl host reset-key (admin, audited) ends the session and the next keyed registration binds again", async () => {
    const h0 = await host(master, "realhost");
    const r = await ctl(master, ["host", "reset-key", "realhost"]);
    expect(r.code).toBe(0);
    expect((await audit(master, "host.reset-key")).at(-1)).toMatchObject({ target: "realhost", result: "ok", role: "admin" });
    // The real agent's session is closed; it comes back and binds its own key again.
    await waitFor(async () => {
      const h = await host(master, "realhost");
      return h?.connected === true && h.hostKey === h0!.hostKey && h.hostId === h0!.hostId ? h : null;
    }, 15_000, "realhost re-bound with its own key");
    expect(real.text).toContain("host key binding reset");
    // A read token cannot reset a key; an unknown host is 1.
    const read = (await mint(master, { role: "read" })).token;
    expect((await ctl(master, ["host", "reset-key", "realhost"], { LAVA_TOKEN: read })).code).toBe(1);
    expect((await ctl(master, ["host", "reset-key", "no-such-host"])).code).toBe(1);
  }, 30_000);
});
