/**
 * Deploy actions end to end (docs/api.md "Deploy"): the compiled master,
 * three compiled agents whose configs define agent.deploy.web (one of them
 * set to fail), and `lava ctl deploy`.
 *   - two waves, a host of the first fails: the second wave never starts;
 *   - --continue goes on;
 *   - parameters arrive as LAVA_PARAM_* verbatim, never through a shell
 *     (attack: a value with shell syntax runs nothing);
 *   - bad parameter names and values are refused before anything is sent;
 *   - a host without the action refuses it; everything is audited.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLava } from "../helpers/binary.ts";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const HOSTS = ["dp1", "dp2", "dp3"];
let master: TestMaster;
const agents: Proc[] = [];
const work = tempDir("lava-deploy-");
const pwned = join(work, "pwned");
type Row = Record<string, unknown>;
const ctl = (args: string[]) => runLava(["ctl", ...args], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken }, timeoutMs: 30_000 });

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n" });
  const proc = writeProcFixture(join(work, "proc"));
  for (const h of HOSTS) {
    const cfg = join(work, `${h}.yaml`);
    // dp2's action fails; dp3 also has a second action the others lack.
    writeFileSync(
      cfg,
      [
        "agent:",
        "  deploy:",
        "    web:",
        `      argv: [/bin/sh, -c, 'printf "%s\\n" "web $LAVA_DEPLOY branch=$LAVA_PARAM_BRANCH env=$LAVA_PARAM_ENV site=$SITE"; exit $FAIL']`,
        `      env: { SITE: ${h}, FAIL: "${h === "dp2" ? 3 : 0}" }`,
        "      timeout: 30",
        ...(h === "dp3" ? ["    db:", "      argv: [/bin/echo, migrated]"] : []),
        "",
      ].join("\n"),
    );
    agents.push(startAgent(master, { hostname: h, procRoot: proc, args: ["--config", cfg, "--state-dir", join(work, `state-${h}`)] }));
  }
  await waitFor(async () => {
    const hosts = (await master.api<Row[]>("/api/v1/hosts")).body;
    return HOSTS.every((h) => hosts.some((x) => x.host === h && x.connected === true));
  }, 20_000, "three agents connected");
}, 40_000);

afterAll(() => teardown({ clients: [...agents], masters: [master], work }));

test("two waves, a host of the first fails: the second wave is not started; exit 1; audited", async () => {
  const r = await ctl(["deploy", "web", "--hosts", HOSTS.join(","), "--wave-size", "2", "--param", "branch=main", "--param", "env=production"]);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("dp1: web web branch=main env=production site=dp1");
  expect(r.stdout).toContain("dp2: web web branch=main env=production site=dp2");
  expect(r.stdout).not.toContain("dp3:");
  expect(r.stderr).toContain("wave 1/2: dp1, dp2");
  expect(r.stderr).not.toContain("wave 2/2");
  expect(r.stderr).toContain("dp2: exit 3");
  expect(r.stderr).toContain("dp3: skipped");
  expect(r.stderr).toContain("stopped after a failed wave");

  const audit = JSON.parse((await ctl(["audit", "--json", "--action", "deploy.result"])).stdout) as Row[];
  expect(audit.map((a) => [a.target, String(a.result).split(":")[0]]).sort()).toEqual([
    ["dp1", "ok exit 0"],
    ["dp2", "ok exit 3"],
    ["dp3", "skipped"],
  ]);
  const req = JSON.parse((await ctl(["audit", "--json", "--action", "deploy.request"])).stdout) as Row[];
  expect(JSON.parse(String(req[0]!.detail))).toMatchObject({ name: "web", params: { branch: "main", env: "production" }, waveSize: 2 });
}, 30_000);

test("--continue goes on after the failed wave; --json has one object per host", async () => {
  const r = await ctl(["deploy", "web", "--all", "--wave-size", "2", "--continue", "--json"]);
  expect(r.code).toBe(1);
  const rows = JSON.parse(r.stdout) as Row[];
  expect(rows.map((x) => [x.host, x.status, x.exitCode])).toEqual([
    ["dp1", "ok", 0],
    ["dp2", "ok", 3],
    ["dp3", "ok", 0],
  ]);
  expect(String(rows[2]!.stdout)).toContain("site=dp3");
}, 30_000);

test("attack: a parameter value with shell syntax is passed verbatim and runs nothing", async () => {
  const evil = `x"; touch ${pwned}; echo "$(touch ${pwned})`;
  const r = await ctl(["deploy", "web", "--hosts", "dp1", "--param", `branch=${evil}`]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`branch=${evil}`);
  expect(existsSync(pwned)).toBe(false);
}, 30_000);

test("bad parameters are refused by ctl (exit 2) and by the master (400) before anything runs", async () => {
  for (const bad of [["--param", "PATH=/tmp"], ["--param", "ld_preload"], ["--param", "branch=a", "--param", "branch=b"], ["--param", `b=${"x".repeat(5000)}`]]) {
    const r = await ctl(["deploy", "web", "--hosts", "dp1", ...bad]);
    expect(r.code).toBe(2);
  }
  const direct = await master.api<Row>("/api/v1/deploy", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "web", hosts: ["dp1"], params: { LD_PRELOAD: "/tmp/x.so" } }) });
  expect(direct.status).toBe(400);
  const nul = await master.api<Row>("/api/v1/deploy", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "web", hosts: ["dp1"], params: { branch: "a\u0000b" } }) });
  expect(nul.status).toBe(400);
  const name = await master.api<Row>("/api/v1/deploy", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "../web", hosts: ["dp1"] }) });
  expect(name.status).toBe(400);
}, 30_000);

test("a host without the action refuses it, naming what to add", async () => {
  const r = await ctl(["deploy", "db", "--all", "--wave-size", "3", "--json"]);
  expect(r.code).toBe(1);
  const rows = JSON.parse(r.stdout) as Row[];
  expect(rows.find((x) => x.host === "dp3")).toMatchObject({ status: "ok", exitCode: 0 });
  const dp1 = rows.find((x) => x.host === "dp1")!;
  expect(dp1.status).toBe("refused");
  expect(String(dp1.error)).toContain("add agent.deploy.db");
}, 30_000);
