/**
 * `lava ctl …` run in-process through main() against a local fake master:
 * output captured with setOutput, errors from console.error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setOutput } from "../../src/ctl/output.ts";
import { main } from "../../src/main.ts";
import { ADMIN_TOKEN, closedPort, HOST_ROWS, LOAD_ROWS, masterApi, serve, STATUS, type Fake } from "./fake-master.ts";

const dir = mkdtempSync(join(tmpdir(), "lava-ctl-"));
/** An empty config file, so a developer's /etc/lava/lava.yaml cannot leak in. */
const configFile = join(dir, "empty.yaml");
writeFileSync(configFile, "");
const savedEnv: Record<string, string | undefined> = {};
let master: Fake;

beforeAll(async () => {
  for (const k of Object.keys(process.env)) {
    if (k.startsWith("LAVA_")) {
      savedEnv[k] = process.env[k];
      delete process.env[k];
    }
  }
  master = await serve(masterApi());
});

afterAll(async () => {
  await master.stop();
  Object.assign(process.env, savedEnv);
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function ctl(...args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const prevOut = setOutput({ write: (t) => void (stdout += t) });
  const prevErr = console.error;
  console.error = (...a: unknown[]) => void (stderr += a.map(String).join(" ") + "\n");
  try {
    const code = await main(["ctl", ...args, "--config", configFile]);
    return { code, stdout, stderr };
  } finally {
    setOutput(prevOut);
    console.error = prevErr;
  }
}

const at = () => ["--master", master.text];

describe("lava ctl load", () => {
  test("--json passes the master's array through as one document and a newline", async () => {
    const r = await ctl("load", "--json", ...at());
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith("\n")).toBe(true);
    expect(r.stdout.trimEnd().includes("\n")).toBe(false);
    expect(JSON.parse(r.stdout)).toEqual(LOAD_ROWS);
    expect(r.stderr).toBe("");
  });

  test("the table has the lsload columns and a row per host", async () => {
    const r = await ctl("load", ...at());
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]!.split(/\s+/)).toEqual(["HOST", "STATUS", "R1M", "R5M", "R15M", "UT", "MEM", "SWP", "NCPU", "JOBS", "AGE"]);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["alpha", "beta"]);
  });

  test("-l adds the long columns", async () => {
    const r = await ctl("load", "-l", ...at());
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toContain("LOSS%");
  });

  test("HOST arguments filter, in --json too", async () => {
    const r = await ctl("load", "--json", ...at(), "beta");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([LOAD_ROWS[1]]);
  });

  test("an unknown host exits 1 naming it, with nothing on stdout", async () => {
    const r = await ctl("load", ...at(), "alpha", "gamma");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("lava: unknown host gamma");
  });

  test("an unreachable master exits 3", async () => {
    const dead = await closedPort();
    const r = await ctl("load", "--master", `127.0.0.1:${dead.port}`, "--timeout", "1");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("no master reachable");
    expect(r.stdout).toBe("");
  });

  test("a comma-separated --master list fails over", async () => {
    const dead = await closedPort();
    const r = await ctl("load", "--json", "--master", `127.0.0.1:${dead.port},${master.text}`);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(LOAD_ROWS);
  });

  test("LAVA_MASTER is used when --master is not given", async () => {
    process.env.LAVA_MASTER = master.text;
    try {
      const r = await ctl("load", "--json");
      expect(r.code).toBe(0);
    } finally {
      delete process.env.LAVA_MASTER;
    }
  });

  test("a bad --master value is a usage error (exit 2)", async () => {
    const r = await ctl("load", "--master", "host:notaport");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--master");
  });

  test("a bad --timeout is a usage error (exit 2)", async () => {
    const r = await ctl("load", ...at(), "--timeout", "soon");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("timeout");
  });
});

describe("lava ctl hosts", () => {
  test("table with the hosts columns", async () => {
    const r = await ctl("hosts", ...at());
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]!.split(/\s+/)).toEqual(["HOST", "ID", "STATUS", "NCPU", "MEM", "GPUS", "OS", "VERSION", "CONN"]);
  });

  test("--json passes the array through", async () => {
    const r = await ctl("hosts", "--json", ...at());
    expect(JSON.parse(r.stdout)).toEqual(HOST_ROWS);
  });
});

describe("lava ctl status", () => {
  test("human output names accepted reports and the nonzero drop reasons", async () => {
    const r = await ctl("status", ...at());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("1234 reports accepted; dropped: 3 bad_tag, 1 replay");
    expect(r.stdout).toContain("1 ok");
  });

  test("--json prints the object as returned", async () => {
    const r = await ctl("status", "--json", ...at());
    expect(JSON.parse(r.stdout)).toEqual(STATUS);
  });
});

describe("lava ctl token create", () => {
  test("prints only the token and sends the request body", async () => {
    const before = master.seen.length;
    const r = await ctl("token", "create", "--role", "read", "--subject", "ci", "--ttl", "3600", "--token", ADMIN_TOKEN, ...at());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("eyJ.minted.token\n");
    const req = master.seen[before]!;
    expect(req).toMatchObject({ method: "POST", path: "/api/v1/tokens", authorization: `Bearer ${ADMIN_TOKEN}`, body: { role: "read", subject: "ci", ttlSeconds: 3600 } });
  });

  test("--json prints the whole answer", async () => {
    const r = await ctl("token", "create", "--role", "agent", "--json", "--token", ADMIN_TOKEN, ...at());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ token: "eyJ.minted.token", jti: "j1" });
  });

  test("LAVA_TOKEN is used when --token is not given", async () => {
    process.env.LAVA_TOKEN = ADMIN_TOKEN;
    try {
      const r = await ctl("token", "create", "--role", "read", ...at());
      expect(r.code).toBe(0);
    } finally {
      delete process.env.LAVA_TOKEN;
    }
  });

  test("without a token: exit 1 saying how to give one", async () => {
    const r = await ctl("token", "create", "--role", "read", ...at());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--token");
    expect(r.stdout).toBe("");
  });

  test("a read token: exit 1 mentioning the role", async () => {
    const r = await ctl("token", "create", "--role", "read", "--token", "read-token", ...at());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("role");
  });

  test("a missing or bad --role or --ttl is a usage error (exit 2) and sends nothing", async () => {
    const before = master.seen.length;
    expect((await ctl("token", "create", ...at())).code).toBe(2);
    expect((await ctl("token", "create", "--role", "root", ...at())).code).toBe(2);
    expect((await ctl("token", "create", "--role", "read", "--ttl", "1.5", ...at())).code).toBe(2);
    expect((await ctl("token", "create", "--role", "read", "--ttl", "-3", ...at())).code).toBe(2);
    expect(master.seen.length).toBe(before);
  });
});
