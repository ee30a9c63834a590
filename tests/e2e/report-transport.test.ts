/**
 * agent.reportTransport auto with the compiled master and agent: the
 * agent's UDP reports are dropped on the way (a firewall, simulated by a
 * relay that rewrites `registered.udpPort` to a socket that drops
 * everything); the agent notices from the master's pings, moves to the
 * master's TCP report port, and the host stays `ok`; once UDP gets through
 * again, its probes arrive and reports move back to UDP.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { startRelay, type Relay } from "../helpers/relay.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

let master: TestMaster;
let relay: Relay;
let agent: Proc | null = null;
const dir = tempDir("lava-rt-");

beforeAll(async () => {
  master = await TestMaster.start({ args: ["--tcp-report-port", String(freePort())], config: "master:\n  reportInterval: 1\n  pingInterval: 0.5\n" });
  relay = await startRelay({ addr: master.addr, udpPort: master.run.udpPort });
}, 20_000);
afterAll(() => teardown({ clients: [agent, relay], masters: [master], work: dir }));

type Load = { host: string; status: string; ageMs: number | null };
const load = async () => (await master.api<Load[]>("/api/v1/load")).body.find((h) => h.host === "fw-1");
const tcpReports = async () => {
  const t = (await master.api<{ ingest: { tcp: { reports: number } | null } }>("/api/v1/status")).body.ingest.tcp;
  return t?.reports ?? 0;
};

test("auto: UDP dropped on the way → reports move to TCP and the host stays ok; UDP back → reports move back", async () => {
  agent = startAgent(master, {
    hostname: "fw-1",
    master: relay.addr,
    procRoot: writeProcFixture(tempDir("lava-rt-proc-")),
    args: ["--report-transport", "auto", "--state-dir", dir],
  });
  // UDP reports vanish; the master's pings show none arrived; TCP takes over.
  await waitFor(async () => (await load())?.status === "ok", 15_000, "fw-1 ok over TCP");
  expect(relay.dropped).toBeGreaterThanOrEqual(3);
  expect(await tcpReports()).toBeGreaterThan(0);
  expect(agent.text).toContain("reports go over TCP");

  // It stays ok over TCP: reports keep arriving (five intervals, checked every 200 ms).
  const until = performance.now() + 5000;
  const before = await tcpReports();
  while (performance.now() < until) {
    const h = await load();
    expect(h?.status).toBe("ok");
    expect(h!.ageMs!).toBeLessThan(2500);
    await Bun.sleep(200);
  }
  expect(await tcpReports()).toBeGreaterThanOrEqual(before + 3);

  // UDP works again: a UDP probe arrives and reports move back.
  relay.udpOpen = true;
  await waitFor(() => agent!.text.includes("reports go over UDP again"), 15_000, "the agent back on UDP");
  const tcpThen = await tcpReports();
  const forwardedThen = relay.forwarded;
  await waitFor(() => relay.forwarded >= forwardedThen + 3, 10_000, "reports over UDP");
  expect(await tcpReports()).toBeLessThanOrEqual(tcpThen + 1);
  expect((await load())?.status).toBe("ok");
}, 60_000);
