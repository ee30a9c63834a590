/**
 * Issue 11: `--token` on the command line shows in `ps` (and
 * /proc/PID/cmdline to every local user). `--token-file` and
 * LAVA_TOKEN_FILE keep the token in a file (mode 0600) for agent and ctl.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writePrivateFile } from "../../src/auth/index.ts";
import { runLava } from "../helpers/binary.ts";
import { spawnLava, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { host, mint } from "./lib.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
let agent: Proc | null = null;
const work = tempDir("lava-sec-tokenfile-");

beforeAll(async () => {
  master = await TestMaster.start();
}, 20_000);

afterAll(() => teardown({ clients: [agent], masters: [master], work }));

describe("tokens from files", () => {
  test("the agent reads --token-file; its command line and environment hold no token", async () => {
    const { token } = await mint(master, { role: "agent" });
    const file = join(work, "agent.token");
    writePrivateFile(file, `${token}\n`);
    agent = spawnLava(["agent", "--master", master.addr, "--hostname", "filed", "--token-file", file, "--state-dir", join(work, "state"), "--proc-root", writeProcFixture(join(work, "proc")), "--interval", "1"]);
    await waitFor(async () => (await host(master, "filed"))?.connected === true, 15_000, "agent registered with the token from its file");
    const pid = agent.proc.pid;
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(token);
    expect(readFileSync(`/proc/${pid}/environ`, "utf8")).not.toContain(token);
  }, 20_000);

  test("ctl reads --token-file and LAVA_TOKEN_FILE; a missing file is a usage error (exit 2)", async () => {
    const file = join(work, "admin.token");
    writePrivateFile(file, master.adminToken);
    const flag = await runLava(["ctl", "hosts", "--json", "--token-file", file], { env: { LAVA_MASTER: master.addr } });
    expect(flag.code).toBe(0);
    const env = await runLava(["ctl", "hosts", "--json"], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN_FILE: file } });
    expect(env.code).toBe(0);
    expect(JSON.parse(env.stdout)).toBeArray();
    const missing = await runLava(["ctl", "hosts", "--token-file", join(work, "nope")], { env: { LAVA_MASTER: master.addr } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read the token file");
    // Without a token at all the master refuses (exit 1), so the file was what made the difference.
    expect((await runLava(["ctl", "hosts"], { env: { LAVA_MASTER: master.addr } })).code).toBe(1);
  }, 20_000);
});
