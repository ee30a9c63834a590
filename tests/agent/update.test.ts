/**
 * update_agent through the real agent and the fake master, with a stand-in
 * for the executable (deps.update.execPath, a shell script) so the test
 * never touches bun: every failure leaves the old file in place and no
 * download behind; a verified binary replaces it atomically; and run.ts
 * then re-executes it in place (process.execve: same pid, same argv and
 * environment). The full path with a rebuilt lava binary is the e2e test
 * of the master side.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { AgentSchema } from "../../src/config/index.ts";
import { CommandResultSchema } from "../../src/control/index.ts";
import { cleanEnv, REPO } from "../helpers/binary.ts";
import { waitFor } from "../helpers/wait.ts";
import { FakeMaster } from "./fake-master.ts";
import { cleanUp, forRequest, startRig } from "./harness.ts";

const NEW_VERSION = "9.9.9";
const OLD = "#!/bin/sh\necho old binary\n";
/** A stand-in for a lava binary: answers `version --json`, and says how it was started otherwise. */
const script = (version: string) =>
  `#!/bin/sh\nif [ "$1" = version ] && [ "$2" = --json ]; then echo '{"version":"${version}","commit":"test","bun":"1"}'; exit 0; fi\necho "restarted pid=$$ args=$* env=$LAVA_UPDATE_TEST"\n`;
const sha256 = (body: string) => new Bun.CryptoHasher("sha256").update(body).digest("hex");

let dir: string;
let n = 0;
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), "lava-update-")));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(cleanUp);

/** A directory holding only the "running" executable. */
function installOld(): { exe: string; home: string } {
  const home = join(dir, `host${++n}`);
  const exe = join(home, "lava");
  mkdirSync(home);
  writeFileSync(exe, OLD);
  chmodSync(exe, 0o755);
  return { exe, home };
}

async function updateRig(exe: string, compiled = true) {
  return startRig({}, { update: { execPath: exe, compiled, argv: ["bun", "/$bunfs/root/lava", "agent"] } });
}

const update = (m: FakeMaster, requestId: string, body: string, extra: Record<string, unknown> = {}) => {
  m.files.set("/api/v1/agent/binary", body);
  m.sendJson({ type: "update_agent", requestId, path: "/api/v1/agent/binary", sha256: sha256(body), version: NEW_VERSION, ...extra });
};
const result = (m: FakeMaster, id: string) => waitFor(() => forRequest(m, "command_result", id)[0], 10_000, `command_result of ${id}`);

/** The old file is intact and nothing else is in its directory. */
function expectUntouched(exe: string, home: string) {
  expect(readFileSync(exe, "utf8")).toBe(OLD);
  expect(readdirSync(home)).toEqual(["lava"]);
}

describe("update_agent: failures keep the running binary", () => {
  test("run from source (not a compiled binary): refused, nothing fetched", async () => {
    const { exe, home } = installOld();
    const { m } = await updateRig(exe, false);
    update(m, "u1", script(NEW_VERSION));
    const r = await result(m, "u1");
    expect(r).toMatchObject({ status: "failed" });
    expect(r.error).toContain("runs from source");
    expect(m.httpRequests).toEqual([]);
    expectUntouched(exe, home);
  });

  test("a bad checksum: failed, the old binary stays, the download is removed; the fetch carried the agent's token", async () => {
    const { exe, home } = installOld();
    const { m, agent } = await updateRig(exe);
    update(m, "u2", script(NEW_VERSION), { sha256: "0".repeat(64) });
    const r = await result(m, "u2");
    expect(v.safeParse(CommandResultSchema, r).success).toBe(true);
    expect(r.status).toBe("failed");
    expect(r.error).toContain(`checksum mismatch: the download (${script(NEW_VERSION).length} bytes) has SHA-256 ${sha256(script(NEW_VERSION))}`);
    expect(m.httpRequests).toEqual([{ path: "/api/v1/agent/binary", auth: "Bearer t" }]);
    expectUntouched(exe, home);
    expect(agent.status().state).toBe("registered");
  });

  test("nothing at the path (404): failed with the status", async () => {
    const { exe, home } = installOld();
    const { m } = await updateRig(exe);
    m.sendJson({ type: "update_agent", requestId: "u3", path: "/no/such/binary", sha256: "a".repeat(64), version: NEW_VERSION });
    expect((await result(m, "u3")).error).toContain("HTTP 404 (the master has no binary at that path)");
    expectUntouched(exe, home);
  });

  test("the new binary reports another version, or does not run at all: failed, old binary kept", async () => {
    const { exe, home } = installOld();
    const { m } = await updateRig(exe);
    update(m, "u4", script("1.2.3"));
    expect((await result(m, "u4")).error).toContain('the new binary is version "1.2.3", not the "9.9.9" the master asked for');
    expectUntouched(exe, home);
    update(m, "u5", "\x7fELF not really a binary");
    expect((await result(m, "u5")).error).toContain("the new binary does not run on this host");
    expectUntouched(exe, home);
  });

  test("stopping the agent during a download cancels it: failed, the partial download removed", async () => {
    const { exe, home } = installOld();
    const { m, agent } = await updateRig(exe);
    let pulled = 0;
    m.files.set("/slow", () => new Response(new ReadableStream({ pull: (c) => (pulled++ === 0 ? c.enqueue(new Uint8Array(1000)) : new Promise(() => {})) })));
    m.sendJson({ type: "update_agent", requestId: "u7", path: "/slow", sha256: "a".repeat(64), version: NEW_VERSION });
    await waitFor(() => readdirSync(home).length === 2, 5000, "the download started");
    await agent.stop();
    expect(forRequest(m, "command_result", "u7")[0]).toMatchObject({ status: "failed", error: "cancelled: the agent is stopping" });
    expectUntouched(exe, home);
  }, 10_000);

  test("a path that is not one absolute path on the master is refused before any fetch", async () => {
    const { exe, home } = installOld();
    const { m } = await updateRig(exe);
    m.sendJson({ type: "update_agent", requestId: "u6", path: "//evil.example/lava", sha256: "a".repeat(64), version: NEW_VERSION });
    expect((await result(m, "u6")).error).toContain("unusable download path");
    expect(m.httpRequests).toEqual([]);
    expectUntouched(exe, home);
  });
});

describe("update_agent: success", () => {
  test("a verified binary replaces the executable (mode 0755), the answer is ok, and a restart is requested with the same arguments", async () => {
    const { exe, home } = installOld();
    const { m, agent } = await updateRig(exe);
    const body = script(NEW_VERSION);
    update(m, "ok1", body);
    expect(await result(m, "ok1")).toEqual({ type: "command_result", requestId: "ok1", status: "ok", durationMs: expect.any(Number) });
    expect(readFileSync(exe, "utf8")).toBe(body);
    expect(statSync(exe).mode & 0o777).toBe(0o755);
    expect(readdirSync(home)).toEqual(["lava"]);
    const plan = await agent.restartRequested;
    expect(plan).toMatchObject({ execPath: exe, argv: [exe, "agent"], version: NEW_VERSION });
    update(m, "ok2", body);
    expect((await result(m, "ok2")).error).toContain("already installed");
  });

  test("runAgent then stops the agent cleanly and re-executes the new binary in place: same pid, same argv and environment", async () => {
    const { exe } = installOld();
    const m = await new FakeMaster().start();
    try {
      const config = v.parse(AgentSchema, { master: m.addr, token: "t", hostname: "updating-host", procRoot: "/proc", stateDir: mkdtempSync(join(tmpdir(), "lava-agent-state-")), alerts: { rules: [] } });
      const code = `
        import { runAgent } from "./src/agent/run.ts";
        await runAgent(${JSON.stringify(config)}, { update: { execPath: ${JSON.stringify(exe)}, compiled: true, argv: ["bun", "/$bunfs/root/lava", "agent", "--hostname", "updating-host"] } });
        console.log("runAgent returned: no execve");
      `;
      const proc = Bun.spawn([process.execPath, "-e", code], { cwd: REPO, env: { ...cleanEnv(), LAVA_UPDATE_TEST: "kept" }, stdout: "pipe", stderr: "pipe" });
      try {
        await waitFor(() => m.registers.some((r) => r.hostname === "updating-host"), 10_000, "the agent process registered");
        await waitFor(() => m.ofType("status").length > 0, 5000, "registered");
        update(m, "re1", script(NEW_VERSION));
        const exited = await Promise.race([proc.exited, Bun.sleep(15_000).then(() => "still running")]);
        expect(exited).toBe(0);
        expect(forRequest(m, "command_result", "re1")[0]).toMatchObject({ status: "ok" });
        await waitFor(() => m.closes.some((c) => c.code === 1000), 5000, "a clean close before the restart");
        const out = await new Response(proc.stdout).text();
        expect(out.trim()).toBe(`restarted pid=${proc.pid} args=agent --hostname updating-host env=kept`);
      } finally {
        proc.kill("SIGKILL");
      }
    } finally {
      m.stop();
    }
  }, 30_000);
});
