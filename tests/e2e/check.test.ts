/**
 * `lava ctl check` against real masters: the grace after a master restart
 * (a planned restart must not page), the down hosts named, and UNKNOWN
 * without perfdata. The verdict's rules and the perfdata grammar are in
 * tests/ctl/remote.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runLava } from "../helpers/binary.ts";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
let agent: Proc | null = null;
const dir = tempDir("lava-check-");

beforeAll(async () => {
  master = await TestMaster.start();
});
afterAll(() => teardown({ clients: [agent], masters: [master] }));

const check = (...args: string[]) => runLava(["ctl", "check", "--master", master.addr, ...args], { env: { LAVA_TOKEN: master.adminToken } });

describe("ctl check", () => {
  test("after a master restart, a host not seen yet is pending (OK) during the grace; with --grace 0 it is down, and named", async () => {
    agent = startAgent(master, { hostname: "ck-1", procRoot: writeProcFixture(join(dir, "proc")), args: ["--state-dir", join(dir, "state")] });
    await waitFor(async () => (await master.api<{ host: string; status: string }[]>("/api/v1/load")).body.some((h) => h.host === "ck-1" && h.status === "ok"), 10_000, "ck-1 ok");
    await agent.kill9();
    agent = null;
    await master.stop();
    await master.restart();

    const pending = await check("--json");
    expect(pending.code).toBe(0);
    const body = JSON.parse(pending.stdout) as { state: string; summary: string; perf: Record<string, unknown>; perfdata: { label: string; value: number }[] };
    expect(body.state).toBe("OK");
    expect(body.summary).toMatch(/^1 host, 0 down, 1 pending \(master up or leading for \d+ s of a 12 s grace: ck-1\)/);
    expect(body.perf).toMatchObject({ hosts: 1, down: 0, pending: 1 });
    expect(body.perfdata.find((p) => p.label === "pending")?.value).toBe(1);

    const noGrace = await check("--grace", "0");
    expect(noGrace.code).toBe(2);
    expect(noGrace.stdout).toStartWith("LAVA CRITICAL - 1 of 1 hosts down (unavail 1, unreach 0): ck-1 | hosts=1;;;0 ok=0;;;0;1 down=1;0;0;0;1 ");
  }, 30_000);

  test("ctl hosts shows why a host is drained, also after a master restart; resume clears it", async () => {
    const ctl = (...args: string[]) => runLava(["ctl", ...args, "--master", master.addr], { env: { LAVA_TOKEN: master.adminToken } });
    expect((await ctl("drain", "ck-1", "--reason", "disk swap")).code).toBe(0);
    const row = () => ctl("hosts", "--json").then((r) => (JSON.parse(r.stdout) as Record<string, unknown>[]).find((h) => h.host === "ck-1"));
    expect(await row()).toMatchObject({ drained: true, drainReason: "disk swap" });
    await master.stop();
    await master.restart();
    expect(await row()).toMatchObject({ drained: true, drainReason: "disk swap" });
    expect((await ctl("hosts")).stdout).toMatch(/^ck-1 .* disk swap$/m);
    expect((await ctl("resume", "ck-1")).code).toBe(0);
    expect(await row()).toMatchObject({ drained: false, drainReason: null });
  }, 30_000);

  test("UNKNOWN when no master answers: no perfdata in the line, perf and perfdata null in --json", async () => {
    const r = await runLava(["ctl", "check", "--json", "--master", "127.0.0.1:1"], { env: { LAVA_TOKEN: master.adminToken } });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: "UNKNOWN", code: 3, perf: null, perfdata: null });
    const line = await runLava(["ctl", "check", "--master", "127.0.0.1:1"], { env: { LAVA_TOKEN: master.adminToken } });
    expect(line.stdout).not.toContain("|");
  });
});
