/**
 * Agent self-update end to end: a master built with another version string
 * hands its own executable to an agent that runs from a copy of the old
 * binary (so that replacing it leaves the test binary alone); the agent
 * fetches it, checks it, replaces itself and comes back on the new version.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, ensureBinary, REPO, runLava } from "../helpers/binary.ts";
import { Proc, tempDir, TestMaster } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const NEW_VERSION = "9.9.9-test";
const work = tempDir("lava-upgrade-");
const newBinary = join(work, "lava-new");
const agentBinary = join(work, "agent-bin", "lava");
let oldBinary: string;
let master: TestMaster;
let agent: Proc;

type Row = Record<string, unknown>;
const sha256 = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

beforeAll(async () => {
  oldBinary = ensureBinary();
  const build = Bun.spawnSync([process.execPath, "run", "build"], { cwd: REPO, env: { ...process.env, LAVA_BUILD_VERSION: NEW_VERSION, LAVA_BUILD_OUT: newBinary }, stdout: "ignore", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build of the new binary failed: ${build.stderr}`);
  mkdirSync(join(work, "agent-bin"));
  copyFileSync(oldBinary, agentBinary);
  chmodSync(agentBinary, 0o755);
  // The master runs the new binary: TestMaster starts whatever LAVA_TEST_BINARY names.
  const saved = process.env.LAVA_TEST_BINARY;
  process.env.LAVA_TEST_BINARY = newBinary;
  try {
    master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  upgrade:\n    waveSize: 1\n    timeout: 40\n" });
  } finally {
    if (saved === undefined) delete process.env.LAVA_TEST_BINARY;
    else process.env.LAVA_TEST_BINARY = saved;
  }
  const proc = Bun.spawn([agentBinary, "agent", "--state-dir", tempDir("lava-agent-up1-"), "--master", master.addr, "--hostname", "up1", "--interval", "1", "--log-level", "debug"], {
    env: { ...cleanEnv(), LAVA_TOKEN: master.adminToken, LAVA_RECONNECT_MIN: "0.2", LAVA_RECONNECT_MAX: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  agent = new Proc(proc);
  await waitFor(async () => (await master.api<Row[]>("/api/v1/hosts")).body.find((h) => h.host === "up1" && h.connected === true), 15_000, "agent up1 connected");
}, 60_000);

afterAll(() => teardown({ clients: [agent], masters: [master], work }));

describe("agent self-update", () => {
  test("the master serves its own executable with its sha256 and version", async () => {
    const res = await fetch(`http://${master.addr}/api/v1/agent/binary`, { headers: { authorization: `Bearer ${master.adminToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-lava-version")).toBe(NEW_VERSION);
    expect(res.headers.get("x-lava-sha256")).toBe(sha256(newBinary));
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body.length).toBe(readFileSync(newBinary).length);
    expect(new Bun.CryptoHasher("sha256").update(body).digest("hex")).toBe(sha256(newBinary));
    const read = await runLava(["ctl", "token", "create", "--role", "read"], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken } });
    const denied = await fetch(`http://${master.addr}/api/v1/agent/binary`, { headers: { authorization: `Bearer ${read.stdout.trim()}` } });
    expect(denied.status).toBe(403);
  }, 30_000);

  test("ctl upgrade --all: the agent replaces its binary and registers again on the new version", async () => {
    const before = (await master.api<Row[]>("/api/v1/hosts")).body.find((h) => h.host === "up1")!;
    expect(before.version).not.toBe(NEW_VERSION);
    const oldHash = sha256(agentBinary);
    const r = await runLava(["ctl", "upgrade", "--all"], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken }, timeoutMs: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`upgrading 1 host to ${NEW_VERSION} in 1 wave`);
    expect(r.stdout).toMatch(new RegExp(`up1: ok, ${String(before.version).replace(/\./g, "\\.")} → ${NEW_VERSION.replace(/\./g, "\\.")}`));
    const after = await waitFor(async () => (await master.api<Row[]>("/api/v1/hosts")).body.find((h) => h.host === "up1" && h.version === NEW_VERSION && h.connected === true), 20_000, "up1 on the new version");
    expect(after.version).toBe(NEW_VERSION);
    expect(sha256(agentBinary)).toBe(sha256(newBinary));
    expect(sha256(agentBinary)).not.toBe(oldHash);
    expect(sha256(oldBinary)).toBe(oldHash); // the test binary itself was not touched
    // The same process carries on (execve), so a supervisor sees no exit.
    expect(agent.proc.exitCode).toBeNull();
    const rows = (await master.api<Row[]>("/api/v1/audit?action=upgrade.result")).body;
    expect(rows.find((x) => x.target === "up1")).toMatchObject({ result: `ok ${String(before.version)} → ${NEW_VERSION}` });

    // Again: nothing to do, exit 0; --json has the host as current.
    const again = await runLava(["ctl", "upgrade", "--all", "--json"], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken }, timeoutMs: 30_000 });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual([{ host: "up1", status: "current", fromVersion: NEW_VERSION, version: NEW_VERSION, error: null, durationMs: 0 }]);
  }, 60_000);
});
