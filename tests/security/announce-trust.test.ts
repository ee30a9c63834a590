/**
 * Issue 11: a copy of a master's data dir started elsewhere (a restore
 * test, say) holds the same secret and the agents' recorded sessions, so it
 * can sign announces they verify, with a term of its own. Agents follow an
 * announce only from a master of their configured list or of the
 * membership a master they registered with told them: the copy is ignored,
 * the agent keeps reporting to its master.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { host, type Row } from "./lib.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
let copy: TestMaster;
let agent: Proc;
const work = tempDir("lava-sec-copy-");

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  announceInterval: 0.2\n" });
  agent = startAgent(master, { hostname: "follower", procRoot: writeProcFixture(join(work, "proc")) });
  await waitFor(async () => (await host(master, "follower"))?.status === "ok", 15_000, "agent ok");
}, 30_000);

afterAll(() => teardown({ clients: [agent], masters: [copy, master], work }));

describe("announces from a copy of the data dir", () => {
  test("the agent ignores the copy's signed announces and keeps reporting to its own master", async () => {
    // Copy the data dir the way a backup is restored: master stopped, files copied, master started again.
    await master.stop();
    const copyDir = join(work, "copy");
    cpSync(master.dataDir, copyDir, { recursive: true });
    await master.restart();
    copy = await TestMaster.start({ dataDir: copyDir, config: "master:\n  reportInterval: 1\n  announceInterval: 0.2\n" });
    // Started twice, as a restore test would: its term is then above the real master's (both began
    // at the copied term, and each start of a lone master is an election). With an equal term the
    // copy's announces would be dropped earlier, as replays of lower sequence numbers, and this test
    // would not reach the check it is about.
    await copy.stop();
    await copy.restart();
    await waitFor(async () => (await host(master, "follower"))?.connected === true, 10_000, "agent back on its master");
    // The copy knows the agent's session (same secret, same records) and announces to it.
    expect((await host(copy, "follower"))?.reportAddr).toBe((await host(master, "follower"))?.reportAddr);
    await waitFor(() => agent.text.includes("not a known master"), 10_000, "the copy's announces ignored");
    const load = async (m: TestMaster) => (await m.api<Row[]>("/api/v1/load")).body.find((h) => h.host === "follower")!;
    const before = (await load(master)).reportsReceived as number;
    const copyBefore = (await load(copy)).reportsReceived as number;
    await waitFor(async () => ((await load(master)).reportsReceived as number) >= before + 3, 10_000, "reports still reach the real master");
    expect((await load(copy)).reportsReceived).toBe(copyBefore);
    expect(agent.text).not.toContain(`the leader is now ${copy.addr}`);
  }, 40_000);
});
