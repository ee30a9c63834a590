/**
 * The master's HTTP surface before and around authentication, tried as an
 * attacker would against the compiled master (issue 11): malformed URLs,
 * tokens in URLs, floods of refused requests, the modes of state files,
 * and a data dir whose lava.db went missing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { runLava } from "../helpers/binary.ts";
import { spawnLava, tempDir, TestMaster } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

type Row = Record<string, unknown>;
let master: TestMaster;

beforeAll(async () => {
  master = await TestMaster.start();
}, 20_000);

afterAll(() => teardown({ masters: [master] }));

/** A raw request from a chosen local address (127.0.0.0/8 is all loopback), to be another "source". */
function fromAddress(localAddress: string, method: string, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: master.run.httpPort, method, path, localAddress, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("malformed input gets the API's JSON error, never a debug page", () => {
  test("a path segment with bad percent-encoding, without a token: 400 JSON, no stack, no cwd", async () => {
    for (const path of ["/api/v1/hosts/%ZZ", "/api/v1/hosts/%E0%A4%A", "/api/v1/jobs/%ff"]) {
      const res = await fetch(`${master.url}${path}`);
      const text = await res.text();
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers.get("content-type")).toContain("application/json");
      const body = JSON.parse(text) as Row;
      expect(typeof body.error).toBe("string");
      expect(text).not.toContain(process.cwd());
      expect(text).not.toMatch(/<html|at \//i);
    }
  });
});

describe("tokens in URLs", () => {
  test("a token in the query of an API route is not accepted, and the refusal says to use the header", async () => {
    const res = await fetch(`${master.url}/api/v1/load?token=${master.adminToken}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as Row).detail).toContain("Authorization: Bearer");
  });

  test("the token of a URL never reaches the master's log", async () => {
    await fetch(`${master.url}/api/v1/hosts/x%ZZ?token=${master.adminToken}`);
    await fetch(`${master.url}/api/v1/nosuch?token=${master.adminToken}`);
    expect(master.proc.text).not.toContain(master.adminToken);
  });
});

describe("refused requests do not flood the audit log", () => {
  test("2,000 refused deletes with 4,000-character targets: a handful of rows, targets cut; another source's refusal is still recorded", async () => {
    const long = "x".repeat(4000);
    const before = (await master.api<Row[]>("/api/v1/audit?limit=10000")).body.length;
    for (let i = 0; i < 2000; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => fetch(`${master.url}/api/v1/hosts/${long}${i + j}`, { method: "DELETE", headers: { authorization: "Bearer not.a.token" } })));
    }
    // Another address, refused in the middle of the flood, gets its own row.
    expect(await fromAddress("127.0.0.2", "DELETE", "/api/v1/hosts/victim", "also.not.valid")).toBe(401);
    const rows = await waitFor(async () => {
      const all = (await master.api<Row[]>("/api/v1/audit?action=host.remove&limit=10000")).body;
      return all.some((r) => String(r.detail).includes("127.0.0.2")) ? all : null;
    }, 5000, "the other source's refusal in the audit log");
    const added = (await master.api<Row[]>("/api/v1/audit?limit=10000")).body.length - before;
    expect(added).toBeLessThanOrEqual(10);
    for (const r of rows) expect(String(r.target ?? "").length).toBeLessThanOrEqual(200);
    // The repeats become one row with their count when the window ends.
    const summary = await waitFor(async () => (await master.api<Row[]>("/api/v1/audit?action=host.remove&limit=10000")).body.find((r) => /×\d+ more from 127\.0\.0\.1/.test(String(r.result))), 15_000, "the aggregated row");
    expect(Number(/×(\d+) more/.exec(String(summary.result))![1])).toBeGreaterThanOrEqual(1900);
  }, 30_000);

  test("a valid read token refused for its role is recorded under its real subject and role", async () => {
    const read = (await runLava(["ctl", "token", "create", "--role", "read", "--subject", "monitoring"], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken } })).stdout.trim();
    expect((await master.api("/api/v1/hosts/somehost/drain", { method: "POST", token: read })).status).toBe(403);
    const row = await waitFor(async () => (await master.api<Row[]>("/api/v1/audit?action=host.drain")).body.find((r) => r.target === "somehost"), 5000, "the refusal's audit row");
    expect(row).toMatchObject({ actor: "monitoring", role: "read" });
    expect(String(row.result)).toContain("403 forbidden");
  });
});

describe("files holding state", () => {
  test("lava.db, its -wal and -shm are 0600, the data dir 0700", () => {
    const db = join(master.dataDir, "lava.db");
    for (const f of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(f)) expect((statSync(f).mode & 0o777).toString(8)).toBe("600");
    expect(existsSync(`${db}-wal`)).toBe(true);
    expect((statSync(master.dataDir).mode & 0o777).toString(8)).toBe("700");
  });

  test("a data dir readable by others is named in a warning at start-up, and older state files are tightened", async () => {
    const m = new TestMaster(tempDir("lava-sec-mode-"));
    await m.restart();
    await m.stop();
    chmodSync(m.dataDir, 0o755);
    chmodSync(join(m.dataDir, "lava.db"), 0o644);
    await m.restart();
    expect(m.proc.text).toContain("readable by other users");
    expect((statSync(join(m.dataDir, "lava.db")).mode & 0o777).toString(8)).toBe("600");
    await m.stop();
    m.cleanup();
  }, 20_000);
});

describe("a data dir whose lava.db is gone", () => {
  test("missing or empty lava.db next to the old secret: exit 2 with what to do; --reinit starts empty on purpose", async () => {
    const m = new TestMaster(tempDir("lava-sec-reinit-"));
    await m.restart();
    await m.stop();
    for (const f of ["lava.db", "lava.db-wal", "lava.db-shm"]) rmSync(join(m.dataDir, f), { force: true });
    const missing = await runLava(["master", "--data-dir", m.dataDir, "--bind", "127.0.0.1", "--http-port", "0", "--udp-port", "0"], { timeoutMs: 10_000 });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("lava.db is missing");
    expect(missing.stderr).toContain("--reinit");
    writeFileSync(join(m.dataDir, "lava.db"), "");
    const empty = await runLava(["master", "--data-dir", m.dataDir, "--bind", "127.0.0.1", "--http-port", "0", "--udp-port", "0"], { timeoutMs: 10_000 });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("lava.db is empty");
    const p = spawnLava(["master", "--data-dir", m.dataDir, "--bind", "127.0.0.1", "--http-port", "0", "--udp-port", "0", "--reinit"]);
    await waitFor(() => existsSync(join(m.dataDir, "master.json")) && statSync(join(m.dataDir, "lava.db")).size > 0, 10_000, "the master to start with --reinit");
    expect(p.proc.exitCode).toBeNull();
    await p.stop();
    m.cleanup();
  }, 30_000);

  test("a first start with a copied secret (a new master of a cluster) is not refused", async () => {
    const m = new TestMaster(tempDir("lava-sec-copied-"));
    writeFileSync(join(m.dataDir, "secret"), Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") + "\n", { mode: 0o600 });
    await m.restart();
    await m.stop();
    m.cleanup();
  }, 20_000);
});
