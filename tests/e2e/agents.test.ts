/**
 * The whole load path with real processes: compiled master, compiled agents
 * (several on one machine via --hostname, /proc from fixtures so values are
 * known), and `lava ctl` reading it back; then a master restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { runLava } from "../helpers/binary.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
const agents: Proc[] = [];
const procDir = tempDir("lava-proc-");
type Load = { host: string; hostId: number; status: string; ageMs: number | null; load1: number | null; memFree: number | null; ncpus: number | null; procsTotal: number | null };

const ctl = (args: string[], token = master.adminToken) => runLava(["ctl", ...args], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: token } });
async function loadJson(): Promise<Load[]> {
  const r = await ctl(["load", "--json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  announceInterval: 0.5\n" });
  const fixture = writeProcFixture(join(procDir, "a"), { load: [0.5, 0.25, 0.125], memTotalKb: 8_000_000, memAvailKb: 6_000_000 });
  const agentToken = (await ctl(["token", "create", "--role", "agent"])).stdout.trim();
  for (const name of ["node-a", "node-b"]) agents.push(startAgent(master, { hostname: name, procRoot: fixture, token: agentToken }));
}, 30_000);

afterAll(() => teardown({ clients: [...agents], masters: [master], work: procDir }));

describe("agents → master → ctl", () => {
  test("both agents register and their /proc values reach `lava ctl load --json`", async () => {
    const hosts = await waitFor(async () => {
      const l = await loadJson();
      return l.length === 2 && l.every((h) => h.load1 !== null && h.status === "ok") ? l : null;
    }, 15_000, "two reporting hosts");
    expect(hosts.map((h) => h.host)).toEqual(["node-a", "node-b"]);
    for (const h of hosts) {
      expect(h.load1).toBe(0.5);
      expect(h.memFree).toBe(6_000_000 * 1024);
      expect(h.ncpus).toBe(2);
      expect(h.procsTotal).toBe(345);
      expect(h.ageMs).toBeLessThan(3000);
    }
  }, 20_000);

  test("`lava ctl load` prints an aligned table; hosts and status --json have the fixed fields", async () => {
    const table = await ctl(["load"]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^HOST\s+STATUS\s+R1M/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["node-a", "node-b"]);
    const hosts = JSON.parse((await ctl(["hosts", "--json"])).stdout);
    expect(hosts[0]).toMatchObject({ host: "node-a", status: "ok", ncpus: 2, connected: true });
    const status = JSON.parse((await ctl(["status", "--json"])).stdout);
    expect(status.ingest.accepted).toBeGreaterThan(0);
    expect(status.ingest.dropped.bad_tag).toBe(0);
    expect(status.hosts.ok).toBe(2);
  }, 15_000);

  test("a read token can query but not mint tokens; an unknown host is exit 1; no master is exit 3", async () => {
    const read = (await ctl(["token", "create", "--role", "read"])).stdout.trim();
    expect((await ctl(["load", "--json"], read)).code).toBe(0);
    expect((await ctl(["token", "create", "--role", "admin"], read)).code).toBe(1);
    const unknown = await ctl(["load", "nosuchhost"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("nosuchhost");
    const down = await runLava(["ctl", "load", "--master", "127.0.0.1:1", "--timeout", "1"], { env: { LAVA_TOKEN: master.adminToken } });
    expect(down.code).toBe(3);
  }, 15_000);

  test("after a master restart the agents reconnect, keep their host ids, and report again", async () => {
    const before = await loadJson();
    await master.stop();
    await master.restart();
    const after = await waitFor(async () => {
      const l = await loadJson();
      return l.length === 2 && l.every((h) => h.status === "ok" && h.ageMs !== null && h.ageMs < 2000) ? l : null;
    }, 20_000, "agents back after restart");
    expect(after.map((h) => [h.host, h.hostId])).toEqual(before.map((h) => [h.host, h.hostId]));
    for (const a of agents) expect(a.proc.exitCode).toBeNull();
  }, 30_000);

  test("an agent killed with SIGKILL turns its host unavail; the other stays ok", async () => {
    await agents[1]!.kill9();
    const l = await waitFor(async () => {
      const x = await loadJson();
      return x.find((h) => h.host === "node-b")?.status === "unavail" ? x : null;
    }, 10_000, "node-b unavail");
    expect(l.find((h) => h.host === "node-a")?.status).toBe("ok");
  }, 15_000);
});
