/**
 * Exec policy as an attacker with an admin token would try it (issue 11):
 * walking around master.exec.deny through a symlink, and using an
 * allowlisted command with arguments its entry does not allow. The compiled
 * master and agent, `lava ctl` as a user runs it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLava } from "../helpers/binary.ts";
import { Proc, startAgent, tempDir, TestMaster, writeProcFixture } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const work = tempDir("lava-sec-exec-");
let master: TestMaster;
let agent: Proc;
const linkDir = join(work, "bin");
const touchLink = join(linkDir, "mytouch");

const ctl = (args: string[]) => runLava(["ctl", ...args], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken }, timeoutMs: 30_000 });

beforeAll(async () => {
  mkdirSync(linkDir);
  // Another spelling of /usr/bin/touch: what a symlinked /bin or a planted link gives an attacker.
  symlinkSync("/usr/bin/touch", touchLink);
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  exec:\n    deny: [/usr/bin/touch]\n" });
  const agentConfig = join(work, "agent.yaml");
  writeFileSync(agentConfig, ["agent:", "  exec:", `    allow: [${touchLink}, [/bin/echo, "hello|bye"]]`, ""].join("\n"));
  writeProcFixture(join(work, "proc"));
  agent = startAgent(master, { hostname: "sec-exec", procRoot: join(work, "proc"), args: ["--config", agentConfig] });
  await waitFor(async () => (await master.api<{ host: string; connected: boolean }[]>("/api/v1/hosts")).body.some((h) => h.host === "sec-exec" && h.connected), 20_000, "agent connected");
}, 40_000);

afterAll(() => teardown({ clients: [agent], masters: [master], work }));

describe("master.exec.deny cannot be walked around by a symlink", () => {
  test("a link to a denied file passes the master's text check but the agent refuses what it resolves to; nothing runs", async () => {
    const target = join(work, "created-by-touch");
    const r = await ctl(["exec", "--hosts", "sec-exec", "--json", "--", touchLink, target]);
    expect(r.code).toBe(1);
    const [row] = JSON.parse(r.stdout) as { status: string; error: string }[];
    expect(row!.status).toBe("refused");
    expect(row!.error).toContain('master.exec.deny entry "/usr/bin/touch"');
    expect(existsSync(target)).toBe(false);
  }, 30_000);

  test("the denied path itself is refused by the master as a policy refusal, not as a token problem", async () => {
    const r = await ctl(["exec", "--hosts", "sec-exec", "--", "/usr/bin/touch", join(work, "x")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("master policy");
    expect(r.stderr).not.toContain("token's role");
  }, 30_000);
});

describe("allowlist entries constrain arguments", () => {
  test("an allowed argument runs; another argument of the same command is refused naming the closest entry", async () => {
    const ok = await ctl(["exec", "--hosts", "sec-exec", "--", "/bin/echo", "hello"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("sec-exec: hello");
    const bad = await ctl(["exec", "--hosts", "sec-exec", "--json", "--", "/bin/echo", "hello; reboot"]);
    expect(bad.code).toBe(1);
    const [row] = JSON.parse(bad.stdout) as { status: string; error: string }[];
    expect(row!.status).toBe("refused");
    expect(row!.error).toContain('["/bin/echo", "hello|bye"]');
    expect(row!.error).toContain("does not match");
    const audit = await master.api<{ action: string; result: string }[]>("/api/v1/audit?action=exec.result");
    expect(audit.body.some((a) => a.result.includes("refused"))).toBe(true);
  }, 30_000);
});
