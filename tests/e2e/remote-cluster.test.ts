/**
 * Requests to agents in a cluster of three masters: a follower forwards
 * them to the leader (which holds the agents' channels) and streams the
 * answer back, however long the command is silent.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLava } from "../helpers/binary.ts";
import { tempDir, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { TestCluster } from "../helpers/masters.ts";
import { teardown } from "../helpers/teardown.ts";

let cluster: TestCluster;
let agent: Proc;
const work = tempDir("lava-remote-cluster-");

beforeAll(async () => {
  cluster = await TestCluster.start(3);
  const cfg = join(work, "agent.yaml");
  writeFileSync(cfg, "agent:\n  exec:\n    allow: [/bin/sh]\n");
  agent = await cluster.startAgent("c1", writeProcFixture(join(work, "proc")), ["--config", cfg]);
}, 60_000);

afterAll(() => teardown({ clients: [agent], masters: [cluster], work }));

describe("exec through a follower", () => {
  test("the answer streams back through the follower, even after more than the HTTP idle timeout (10 s) of silence", async () => {
    const leader = await cluster.leader();
    const follower = cluster.masters.find((m) => m !== leader)!;
    const r = await runLava(["ctl", "exec", "--hosts", "c1", "--master", follower.addr, "--", "/bin/sh", "-c", "echo early; sleep 11; echo late"], { env: { LAVA_TOKEN: leader.adminToken }, timeoutMs: 40_000 });
    expect(r.stderr).toContain("lava: exec on 1 host: 1 ok");
    expect(r.stdout).toBe("c1: early\nc1: late\n");
    expect(r.code).toBe(0);
  }, 60_000);
});
