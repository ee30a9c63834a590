/**
 * The agent in-process against a fake master on 127.0.0.1 (fake-master.ts:
 * a Bun.serve WebSocket server that speaks the handshake of docs/api.md and
 * a UDP socket that receives the reports). Real sockets, port 0 everywhere,
 * conditions awaited with deadlines.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { createAgent, type Agent, type AgentDeps } from "../../src/agent/index.ts";
import { AgentSchema, type AgentConfig } from "../../src/config/index.ts";
import { VERSION } from "../../src/version.ts";
import { seededRng } from "../helpers/rng.ts";
import { waitFor } from "../helpers/wait.ts";
import { fakeProcRoot, FakeMaster, HOST_ID, KEY, REPORT_INTERVAL_MS } from "./fake-master.ts";

const TOKEN = "test-token";
const GIB = 1024 ** 3;

/**
 * A TCP proxy in front of a master that can swallow all traffic in both
 * directions while keeping the connections open: a master host that
 * vanished without FIN or RST.
 */
async function blackholeProxy(targetPort: number) {
  const state = { blackhole: false };
  type Side = { upstream: import("bun").Socket<undefined> | null; pending: Uint8Array[] };
  const server = Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { upstream: null, pending: [] };
        void Bun.connect({
          hostname: "127.0.0.1",
          port: targetPort,
          socket: {
            data(_u, d) {
              if (!state.blackhole) client.write(d);
            },
            close() {
              client.end();
            },
            error() {
              client.end();
            },
          },
        }).then(
          (upstream) => {
            client.data.upstream = upstream;
            for (const p of client.data.pending.splice(0)) upstream.write(p);
          },
          () => client.end(),
        );
      },
      data(client, d) {
        if (state.blackhole) return;
        if (client.data.upstream) client.data.upstream.write(d);
        else client.data.pending.push(new Uint8Array(d));
      },
      close(client) {
        client.data.upstream?.end();
      },
    },
  });
  return { state, addr: `127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

let procRoot: string;
const masters: FakeMaster[] = [];
const agents: Agent[] = [];

beforeAll(() => {
  procRoot = fakeProcRoot();
});

afterAll(() => {
  rmSync(procRoot, { recursive: true, force: true });
});

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  for (const m of masters.splice(0)) m.stop();
});

async function fakeMaster(): Promise<FakeMaster> {
  const m = await new FakeMaster().start();
  masters.push(m);
  return m;
}

function agentConfig(master: string, extra: Record<string, unknown> = {}): AgentConfig {
  return v.parse(AgentSchema, { master, token: TOKEN, interval: 1, hostname: "agent-under-test", procRoot, stateDir: mkdtempSync(join(tmpdir(), "lava-agent-state-")), reconnectMin: 0.1, reconnectMax: 0.4, ...extra });
}

async function startAgent(master: string, extra: Record<string, unknown> = {}, deps: AgentDeps = {}): Promise<Agent> {
  const a = createAgent(agentConfig(master, extra), { rng: seededRng(42), forgottenGraceMs: 0, ...deps });
  agents.push(a);
  await a.start();
  return a;
}

describe("lava agent against a fake master", () => {
  test("registers with the fixed fields, then sends AUTH reports whose seq rises by one and whose values match /proc", async () => {
    const m = await fakeMaster();
    const agent = await startAgent(m.addr);
    const reg = await waitFor(() => m.registers[0], 5000, "register");
    expect(reg).toEqual({
      type: "register",
      hostname: "agent-under-test",
      // Its master is on this machine (loopback): a master's host, which takes no jobs without agent.jobs.onMaster.
      hardware: { ncpus: 2, memBytes: 8 * GIB, gpus: 0, os: expect.any(String), onMaster: true, takesJobs: false },
      reportPort: agent.status().reportPort,
      version: VERSION,
      hostKey: expect.any(String),
      proof: { at: expect.any(Number), nonce: expect.any(String), sig: expect.any(String) },
    });
    expect(m.authHeaders[0]).toBe(`Bearer ${TOKEN}`);
    expect(m.fromAgent[0]).toBe(reg); // register is the first message

    await waitFor(() => m.reports.length >= 4, 5000, "4 reports");
    const st = agent.status();
    expect(st.state).toBe("registered");
    expect(st.hostId).toBe(HOST_ID);
    expect(st.reportIntervalMs).toBe(REPORT_INTERVAL_MS); // the master's value wins over config.interval
    const first4 = m.reports.slice(0, 4);
    expect(first4.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    for (const r of first4) {
      expect(r.hostId).toBe(HOST_ID);
      expect(r.tagOk).toBe(true);
      expect(r.fromPort).toBe(reg.reportPort as number);
      expect(r.report).toMatchObject({
        load1: 1.5,
        load5: 1.25,
        load15: 1,
        memUsed: 4 * GIB,
        memFree: 4 * GIB,
        swapUsed: 1 * GIB,
        swapFree: 1 * GIB,
        ncpus: 2,
        jobsRunning: 0,
        jobsPending: 0,
        procsTotal: 321,
        flags: 0,
      });
      expect(r.report.cpuUser + r.report.cpuSys + r.report.cpuIdle).toBeCloseTo(100, 6);
    }
    // The first sample covers the time since boot: 10 % user, 5 % sys.
    expect(first4[0]!.report.cpuUser).toBeCloseTo(10, 6);
    expect(first4[0]!.report.cpuSys).toBeCloseTo(5, 6);
    // Reports come about every 250 ms (±10 %), not every second.
    const span = first4[3]!.at - first4[0]!.at;
    expect(span).toBeGreaterThan(3 * REPORT_INTERVAL_MS * 0.8);
    expect(span).toBeLessThan(3 * REPORT_INTERVAL_MS * 2);
  }, 15_000);

  test("answers a ping with a pong carrying the same ts", async () => {
    const m = await fakeMaster();
    await startAgent(m.addr);
    await waitFor(() => m.sockets.size === 1 && m.registers.length === 1, 5000, "registration");
    m.broadcast(JSON.stringify({ type: "ping", ts: 123456789 }));
    const pong = await waitFor(() => m.fromAgent.find((x) => x.type === "pong"), 5000, "pong");
    expect(pong).toEqual({ type: "pong", ts: 123456789 });
  }, 10_000);

  test("reconnects and registers again after the master closes the socket; seq starts over", async () => {
    const m = await fakeMaster();
    const agent = await startAgent(m.addr);
    await waitFor(() => m.reports.length >= 3, 5000, "reports of the first session");
    for (const ws of m.sockets) ws.close(1001, "going away");
    await waitFor(() => m.registers.length >= 2, 5000, "a second register");
    const again = await waitFor(() => agent.status().state === "registered" && agent.status().registrations === 2, 5000, "registered again");
    expect(again).toBe(true);
    const before = m.reports.length;
    // The new session's reports restart at seq 1 (reports of the old one may still trail in first).
    const start = await waitFor(() => {
      const i = m.reports.findIndex((r, j) => j >= before && r.seq === 1);
      return i >= 0 ? { i } : null;
    }, 5000, "a report with seq 1 in the new session");
    await waitFor(() => m.reports.length >= start.i + 3, 5000, "three reports of the new session");
    expect(m.reports.slice(start.i, start.i + 3).map((r) => r.seq)).toEqual([1, 2, 3]);
  }, 15_000);

  test("keeps reporting while the control channel is down, and comes back when the master admits it again", async () => {
    const m = await fakeMaster();
    const agent = await startAgent(m.addr);
    await waitFor(() => m.reports.length >= 1, 5000, "a report");
    m.refuse = true;
    for (const ws of m.sockets) ws.close(1012, "restarting");
    await waitFor(() => agent.status().state !== "registered", 5000, "the drop");
    // Several reconnect attempts fail (503) while reports keep arriving with the old session.
    const n = m.reports.length;
    await waitFor(() => m.reports.length >= n + 3, 5000, "reports while disconnected");
    expect(m.reports.slice(n).every((r) => r.tagOk && r.hostId === HOST_ID)).toBe(true);
    expect(agent.status().registrations).toBe(1);
    m.refuse = false;
    await waitFor(() => agent.status().registrations === 2 && agent.status().state === "registered", 5000, "registered again");
  }, 15_000);

  test("tries the masters of the list in turn", async () => {
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const deadAddr = `127.0.0.1:${dead.port}`;
    dead.stop(true);
    const m = await fakeMaster();
    const agent = await startAgent(`${deadAddr},${m.addr}`);
    await waitFor(() => agent.status().state === "registered", 5000, "registration with the second master");
    expect(agent.status().master).toBe(m.addr);
  }, 10_000);

  test("an announce with its hostId's bit clear makes it register again at once; a set bit does not", async () => {
    const m = await fakeMaster();
    const agent = await startAgent(m.addr, {}, { stableSessionMs: 0 });
    await waitFor(() => agent.status().state === "registered", 5000, "registration");
    const port = agent.status().reportPort;

    m.announce(port, { activeHostIds: [1, HOST_ID] }, KEY, 1);
    await waitFor(() => agent.status().announcesAccepted === 1, 5000, "the announce accepted");
    expect(agent.status().registrations).toBe(1);

    m.announce(port, { activeHostIds: [1, 2], bitmapBytes: 2 }, KEY, 2);
    await waitFor(() => m.registers.length === 2, 5000, "a second register");
    await waitFor(() => agent.status().state === "registered" && agent.status().registrations === 2, 5000, "registered again");
    expect(agent.status().announcesAccepted).toBe(2);
  }, 10_000);

  test("ignores announces with a bad tag or for another host or naming an unknown master, adopts a new interval, notes a new leader", async () => {
    const m = await fakeMaster();
    const agent = await startAgent(`${m.addr},127.0.0.1:1`);
    await waitFor(() => agent.status().state === "registered", 5000, "registration");
    const port = agent.status().reportPort;

    m.announce(port, { activeHostIds: [] , bitmapBytes: 4 }, new Uint8Array(32).fill(9), 1);
    await waitFor(() => agent.status().announcesRejected.bad_tag === 1, 5000, "bad tag counted");
    expect(agent.status().registrations).toBe(1);

    // Signed with our key, but naming a master that is neither in our list nor in what a master told us
    // (a copy of a data dir started elsewhere): not followed.
    m.announce(port, { reportIntervalMs: 300, leaderAddr: "127.0.0.9:7" }, KEY, 1);
    await waitFor(() => agent.status().announcesRejected.untrusted_leader === 1, 5000, "untrusted leader counted");
    expect(agent.status().leaderHint).toBe(null);
    expect(agent.status().reportIntervalMs).not.toBe(300);
    m.announce(port, { reportIntervalMs: 300, leaderAddr: "127.0.0.1:1" }, KEY, 1);
    await waitFor(() => agent.status().announcesAccepted === 1, 5000, "announce accepted");
    expect(agent.status().reportIntervalMs).toBe(300);
    expect(agent.status().leaderHint).toBe("127.0.0.1:1");
    expect(agent.status().state).toBe("registered"); // a working session is not dropped for a new leader
  }, 10_000);

  test("follows the leader named by an announce on the next connection", async () => {
    const a = await fakeMaster();
    const b = await fakeMaster();
    const agent = await startAgent(`${a.addr},${b.addr}`);
    await waitFor(() => agent.status().state === "registered", 5000, "registration with A");
    a.announce(agent.status().reportPort, { leaderAddr: b.addr });
    await waitFor(() => agent.status().leaderHint === b.addr, 5000, "leader hint");
    for (const ws of a.sockets) ws.close(1001, "stepping down");
    await waitFor(() => b.registers.length === 1, 5000, "register at B");
    await waitFor(() => agent.status().state === "registered" && agent.status().master === b.addr, 5000, "registered with B");
    expect(a.registers.length).toBe(1);
    expect(agent.status().leaderHint).toBe(null);
  }, 10_000);

  test("survives garbage from the master on both channels", async () => {
    const m = await fakeMaster();
    const agent = await startAgent(m.addr);
    await waitFor(() => agent.status().state === "registered", 5000, "registration");
    const garbage = [
      "not json",
      "{",
      "null",
      "[]",
      JSON.stringify({ type: "nope" }),
      JSON.stringify({ type: "registered" }),
      JSON.stringify({ type: "registered", hostId: -1, sessionKey: "!!", reportIntervalMs: 1, udpPort: 0 }),
      JSON.stringify({ type: "ping" }),
      JSON.stringify({ type: "error" }),
      "x".repeat(2_000_000),
    ];
    for (const g of garbage) m.broadcast(g);
    m.broadcast(new Uint8Array([0xff, 0x00, 0x13, 0x37]));
    m.broadcast(JSON.stringify({ type: "error", error: "test_error", detail: "a message from the master" }));
    for (const junk of [new Uint8Array(0), new Uint8Array(5), new Uint8Array(2000), new Uint8Array(200).fill(0xab)]) m.udp.send(junk, agent.status().reportPort, "127.0.0.1");
    await waitFor(() => agent.status().invalidMessages >= garbage.length + 1, 5000, "invalid messages counted");
    m.broadcast(JSON.stringify({ type: "ping", ts: 42 }));
    await waitFor(() => m.fromAgent.some((x) => x.type === "pong" && x.ts === 42), 5000, "a pong after the garbage");
    await waitFor(() => Object.values(agent.status().announcesRejected).reduce((x, y) => x + y, 0) >= 3, 5000, "junk datagrams counted");
    const n = m.reports.length;
    await waitFor(() => m.reports.length > n, 5000, "reports still flowing");
    expect(agent.status().state).toBe("registered");
    expect(agent.status().registrations).toBe(1);
  }, 15_000);

  test("gives up a connection whose register gets no answer, and tries again", async () => {
    const m = await fakeMaster();
    m.silent = true;
    const agent = await startAgent(m.addr, {}, { handshakeTimeoutMs: 200 });
    await waitFor(() => m.registers.length >= 2, 5000, "two unanswered registers");
    expect(agent.status().lastProblem).toContain("no answer to register within 0.2 s");
    expect(agent.status().registrations).toBe(0);
    m.silent = false;
    await waitFor(() => agent.status().state === "registered", 5000, "registration once the master answers");
  }, 10_000);

  test("a short keepalive does not disturb a healthy session", async () => {
    const m = await fakeMaster();
    // Short enough that several keepalive periods pass, long enough (dead after 2 × 200 ms of
    // silence) that a busy CI machine's event-loop stalls cannot fake a dead master.
    const agent = await startAgent(m.addr, {}, { keepaliveMs: 200 });
    await waitFor(() => agent.status().state === "registered", 5000, "registration");
    await waitFor(() => m.reports.length >= 4, 8000, "several keepalive periods of reports");
    expect(agent.status().registrations).toBe(1);
  }, 10_000);

  test("notices a master that went silent (no FIN, no RST) through the keepalive and reconnects", async () => {
    const m = await fakeMaster();
    const proxy = await blackholeProxy(m.server.port!);
    try {
      const agent = await startAgent(proxy.addr, {}, { keepaliveMs: 100, handshakeTimeoutMs: 500 });
      await waitFor(() => agent.status().state === "registered", 5000, "registration through the proxy");
      proxy.state.blackhole = true;
      await waitFor(() => agent.status().state !== "registered", 5000, "the silent master noticed");
      expect(agent.status().lastProblem).toContain("no traffic from the master");
      const n = m.reports.length;
      await waitFor(() => m.reports.length > n, 5000, "reports keep going meanwhile");
      proxy.state.blackhole = false;
      await waitFor(() => agent.status().state === "registered" && agent.status().registrations === 2, 5000, "registered again");
    } finally {
      proxy.stop();
    }
  }, 15_000);

  test("stop() closes the WebSocket with a close frame and the agent ends stopped", async () => {
    const m = await fakeMaster();
    const agent = createAgent(agentConfig(m.addr), { rng: seededRng(1) });
    await agent.start();
    await waitFor(() => agent.status().state === "registered", 5000, "registration");
    await agent.stop();
    expect(agent.status().state).toBe("stopped");
    const c = await waitFor(() => m.closes[0], 5000, "the close at the master");
    expect(c.code).toBe(1000);
    await agent.stop(); // idempotent
  }, 10_000);

  test("start() fails with a clear message when the report port is taken", async () => {
    const m = await fakeMaster();
    const agent = createAgent(agentConfig(m.addr, { reportPort: m.udp.port }));
    await expect(agent.start()).rejects.toThrow(/cannot bind the UDP report port/);
  }, 10_000);

  test("runAgent: SIGTERM stops the agent, runAgent resolves and the process exits by itself", async () => {
    const m = await fakeMaster();
    const config = agentConfig(m.addr, { hostname: "signal-test" });
    const code = `
      import { runAgent } from "./src/agent/run.ts";
      await runAgent(${JSON.stringify(config)});
      console.log("runAgent resolved");
    `;
    const proc = Bun.spawn([process.execPath, "-e", code], { cwd: join(import.meta.dir, "..", ".."), stdout: "pipe", stderr: "pipe" });
    try {
      await waitFor(() => m.registers.some((r) => r.hostname === "signal-test") && m.sockets.size === 1, 10_000, "the agent process registered");
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited, Bun.sleep(5000).then(() => "still running")]);
      expect(exited).toBe(0);
      expect(await new Response(proc.stdout).text()).toContain("runAgent resolved");
      await waitFor(() => m.closes.some((c) => c.code === 1000), 5000, "a clean close at the master");
    } finally {
      proc.kill("SIGKILL");
    }
  }, 20_000);

  test("start() then stop() with no master reachable ends promptly", async () => {
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const addr = `127.0.0.1:${dead.port}`;
    dead.stop(true);
    const agent = createAgent(agentConfig(addr, { reconnectMin: 30, reconnectMax: 60 }), { rng: seededRng(2) });
    await agent.start();
    await waitFor(() => agent.status().state === "waiting", 5000, "backoff");
    const t0 = performance.now();
    await agent.stop();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(agent.status().state).toBe("stopped");
  }, 10_000);
});
