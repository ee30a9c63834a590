import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { runLava } from "../helpers/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "lava-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("dist/lava", () => {
  test("--help lists master, agent and ctl", async () => {
    const r = await runLava(["--help"]);
    expect(r.code).toBe(0);
    for (const sub of ["master", "agent", "ctl", "version"]) expect(r.stdout).toContain(sub);
  }, 30_000);

  test("version prints the version and the build commit", async () => {
    const r = await runLava(["version", "--json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.version).toBe(pkg.version);
    expect(info.commit).toMatch(/^([0-9a-f]{7,}(-dirty)?|unknown)$/);
    const plain = await runLava(["version"]);
    expect(plain.stdout).toContain(`lava ${pkg.version} (commit ${info.commit}`);
  }, 30_000);

  test("master --config with an unknown key exits 2 naming the key and the file", async () => {
    const f = join(dir, "bad.yaml");
    writeFileSync(f, "master:\n  dataDir: /tmp/x\n  udpPrt: 6879\n");
    const r = await runLava(["master", "--config", f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("master.udpPrt");
    expect(r.stderr).toContain(f);
  }, 30_000);

  test("an unknown flag or subcommand is a usage error (exit 2)", async () => {
    expect((await runLava(["master", "--udp-prot", "1"])).code).toBe(2);
    expect((await runLava(["frobnicate"])).code).toBe(2);
  }, 30_000);

  test("a master refuses to start on a damaged database and says what to do", async () => {
    const data = join(dir, "damaged");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, "lava.db"), "SQLite format 3\u0000" + "garbage".repeat(1000));
    const r = await runLava(["master", "--data-dir", data, "--bind", "127.0.0.1", "--http-port", "0", "--udp-port", "0"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lava\.db/);
    expect(r.stderr).toMatch(/restore|damaged|move it aside/i);
  }, 30_000);

  test("a data dir that cannot be created is a clear error, not a crash", async () => {
    const f = join(dir, "a-file");
    writeFileSync(f, "x");
    const r = await runLava(["master", "--data-dir", join(f, "sub"), "--http-port", "0", "--udp-port", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--data-dir");
  }, 30_000);
});

