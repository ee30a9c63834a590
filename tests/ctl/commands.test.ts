/**
 * `lava ctl …` run in-process through main() against a local fake master:
 * output captured with setOutput, errors from console.error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/main.ts";
import { runMain, type Run } from "../helpers/ctl.ts";
import { ADMIN_TOKEN, AUDIT_ROWS, closedPort, HOST_ROWS, LOAD_ROWS, LONG_RESULT, masterApi, serve, STATUS, TOKEN_ROWS, type Fake } from "./fake-master.ts";

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

const ctl = (...args: string[]): Promise<Run> => runMain(["ctl", ...args, "--config", configFile]);

const at = () => ["--master", master.text];
/** The master and an admin token, for the commands that change state or read tokens and audit. */
const asAdmin = () => ["--token", ADMIN_TOKEN, ...at()];

/** Runs the command and returns what the master saw meanwhile. */
async function ctlSeen(...args: string[]): Promise<Run & { seen: typeof master.seen }> {
  const before = master.seen.length;
  const r = await ctl(...args);
  return { ...r, seen: master.seen.slice(before) };
}

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
    expect(lines[0]!.split(/\s+/)).toEqual(["HOST", "STATUS", "R1M", "R5M", "R15M", "UT", "MEMFREE", "SWPFREE", "NCPU", "JOBS", "AGE"]);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["alpha", "beta"]);
  });

  test("-l adds the long columns", async () => {
    const r = await ctl("load", "-l", ...at());
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toContain("LOSS%");
  });

  test("-o chooses columns, --sort orders the rows (in --json too), --no-header drops the header; bad fields exit 2", async () => {
    const r = await ctl("load", ...at(), "-o", "host,status,load1", "--sort=-load1", "--no-header");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("alpha  ok       0.52\nbeta   unavail     -\n");
    const wide = await ctl("load", ...at(), "-o", "wide");
    expect(wide.stdout.split("\n")[0]!.split(/\s+/)).toContain("MEMUSED");
    const sorted = await ctl("load", "--json", ...at(), "--sort", "host");
    expect(JSON.parse(sorted.stdout)).toEqual(LOAD_ROWS);
    for (const bad of [["-o", "host,nope"], ["-s", "nope"], ["-o", ","], ["--watch=0"]]) {
      const b = await ctl("load", ...at(), ...bad);
      expect(b.code).toBe(2);
      expect(b.stdout).toBe("");
    }
  });

  test("--watch SECONDS into a pipe: a title line and the table each round, no control characters; a signal ends it with exit 0", async () => {
    const run = ctl("load", ...at(), "--watch", "0.2", "alpha");
    await Bun.sleep(700);
    process.emit("SIGINT");
    const r = await run;
    expect(r.code).toBe(0);
    const rounds = r.stdout.split("\n\n").filter((x) => x.trim() !== "");
    expect(rounds.length).toBeGreaterThanOrEqual(2);
    for (const round of rounds) {
      expect(round).toMatch(/^Every 0.2s: lava ctl load .*UTC\nHOST /);
      expect(round).toContain("\nalpha ");
      expect(round).not.toContain("beta");
    }
    expect(r.stdout).not.toContain("\x1b");
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
    expect(r.stdout.split("\n")[0]!.split(/\s+/)).toEqual(["HOST", "ID", "STATUS", "NCPU", "MEMTOTAL", "GPUS", "OS", "VERSION", "CONN", "AGENT", "JOBS", "REASON"]);
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

describe("lava ctl drain / resume", () => {
  test("drain prints 'HOST drained' and POSTs the reason", async () => {
    const r = await ctlSeen("drain", "alpha", "--reason", "disk swap", ...asAdmin());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("alpha drained\n");
    expect(r.stderr).toBe("");
    expect(r.seen).toEqual([{ method: "POST", path: "/api/v1/hosts/alpha/drain", authorization: `Bearer ${ADMIN_TOKEN}`, body: { reason: "disk swap" } }]);
  });

  test("drain without --reason sends an empty object", async () => {
    const r = await ctlSeen("drain", "beta", ...asAdmin());
    expect(r.code).toBe(0);
    expect(r.seen[0]).toMatchObject({ method: "POST", path: "/api/v1/hosts/beta/drain", body: {} });
  });

  test("drain --json prints the master's answer", async () => {
    const r = await ctl("drain", "alpha", "--json", ...asAdmin());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ host: "alpha", drained: true });
  });

  test("resume prints 'HOST resumed' and POSTs no body", async () => {
    const r = await ctlSeen("resume", "alpha", ...asAdmin());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("alpha resumed\n");
    expect(r.seen).toEqual([{ method: "POST", path: "/api/v1/hosts/alpha/resume", authorization: `Bearer ${ADMIN_TOKEN}`, body: undefined }]);
  });

  test("resume --json prints the master's answer", async () => {
    const r = await ctl("resume", "beta", "--json", ...asAdmin());
    expect(JSON.parse(r.stdout)).toEqual({ host: "beta", drained: false });
  });

  test("an unknown host (404) exits 1 with the master's detail and nothing on stdout", async () => {
    for (const cmd of ["drain", "resume"]) {
      const r = await ctl(cmd, "gamma", ...asAdmin());
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe("lava: no host named 'gamma' is registered\n");
    }
  });

  test("a host name goes as one URL path segment", async () => {
    const r = await ctlSeen("drain", "a/b c", ...asAdmin());
    expect(r.seen[0]!.path).toBe("/api/v1/hosts/a%2Fb%20c/drain");
    expect(r.stderr).toContain("no host named 'a/b c'");
  });

  test("without an admin token: exit 1 naming the role", async () => {
    const r = await ctl("drain", "alpha", "--token", "read-token", ...at());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("role");
  });

  test("a missing, extra or bad HOST, or an empty --reason, is a usage error (exit 2) and sends nothing", async () => {
    const before = master.seen.length;
    for (const args of [["drain"], ["resume"], ["drain", "alpha", "beta"], ["resume", "alpha", "beta"], ["drain", ".."], ["drain", "alpha", "--reason", ""]]) {
      const r = await ctl(...args, ...asAdmin());
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
    }
    expect((await ctl("drain", ...asAdmin())).stderr).toContain("HOST");
    expect(master.seen.length).toBe(before);
  });
});

describe("lava ctl host remove", () => {
  test("prints 'HOST removed' and sends DELETE without a body", async () => {
    const r = await ctlSeen("host", "remove", "beta", ...asAdmin());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("beta removed\n");
    expect(r.seen).toEqual([{ method: "DELETE", path: "/api/v1/hosts/beta", authorization: `Bearer ${ADMIN_TOKEN}`, body: undefined }]);
  });

  test("--json prints the master's answer", async () => {
    const r = await ctl("host", "remove", "alpha", "--json", ...asAdmin());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ host: "alpha", removed: true });
  });

  test("an unknown host (404) exits 1 with the master's detail", async () => {
    const r = await ctl("host", "remove", "gamma", ...asAdmin());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("lava: no host named 'gamma' is registered\n");
  });

  test("a missing HOST, or no subcommand, is a usage error (exit 2) and sends nothing", async () => {
    const before = master.seen.length;
    const r = await ctl("host", "remove", ...asAdmin());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("HOST");
    expect((await ctl("host", "remove", "alpha", "beta", ...asAdmin())).code).toBe(2);
    const prevLog = console.log;
    console.log = () => {}; // the usage text `lava ctl host` prints
    try {
      expect((await ctl("host", ...asAdmin())).code).toBe(2);
    } finally {
      console.log = prevLog;
    }
    expect(master.seen.length).toBe(before);
  });
});

describe("lava ctl token list / revoke", () => {
  test("list: a table with compact UTC times and '-' for none", async () => {
    const r = await ctlSeen("token", "list", ...asAdmin());
    expect(r.code).toBe(0);
    expect(r.seen[0]).toMatchObject({ method: "GET", path: "/api/v1/tokens" });
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]!.split(/\s+/)).toEqual(["JTI", "ROLE", "SUBJECT", "HOST", "CREATED", "EXPIRES", "REVOKED"]);
    expect(lines[1]).toMatch(/^j1\s+admin\s+bootstrap\s+-\s+2026-11-22 21:04\s+-\s+-$/);
    expect(lines[2]).toMatch(/^j2\s+agent\s+rack1\s+alpha\s+2026-11-22 21:05\s+2027-11-22 21:05\s+2026-12-01 08:30$/);
  });

  test("list --json passes the array through", async () => {
    const r = await ctl("token", "list", "--json", ...asAdmin());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(TOKEN_ROWS);
  });

  test("list with a read token: exit 1 naming the role", async () => {
    const r = await ctl("token", "list", "--token", "read-token", ...at());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("role");
  });

  test("revoke prints 'token JTI revoked' and sends DELETE", async () => {
    const r = await ctlSeen("token", "revoke", "j2", ...asAdmin());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("token j2 revoked\n");
    expect(r.seen).toEqual([{ method: "DELETE", path: "/api/v1/tokens/j2", authorization: `Bearer ${ADMIN_TOKEN}`, body: undefined }]);
  });

  test("revoke --json prints the master's answer", async () => {
    const r = await ctl("token", "revoke", "j9", "--json", ...asAdmin());
    expect(JSON.parse(r.stdout)).toEqual({ jti: "j9", revoked: true });
  });

  test("revoke without a JTI, or with two, is a usage error (exit 2) and sends nothing", async () => {
    const before = master.seen.length;
    const r = await ctl("token", "revoke", ...asAdmin());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("JTI");
    expect((await ctl("token", "revoke", "j1", "j2", ...asAdmin())).code).toBe(2);
    expect(master.seen.length).toBe(before);
  });
});

describe("lava ctl audit", () => {
  test("a table TIME ACTOR ROLE ACTION TARGET RESULT, the long RESULT cut short", async () => {
    const r = await ctlSeen("audit", ...asAdmin());
    expect(r.code).toBe(0);
    expect(r.seen[0]).toMatchObject({ method: "GET", path: "/api/v1/audit" });
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]!.split(/\s+/)).toEqual(["TIME", "ACTOR", "ROLE", "ACTION", "TARGET", "RESULT"]);
    expect(lines[1]).toMatch(/^2026-11-22 21:04:09\s+bootstrap\s+admin\s+token\.create\s+j2\s+ok$/);
    expect(lines[3]).toMatch(/^2026-11-22 21:07:00\s+anonymous\s+read\s+host\.remove\s+-\s+refused: 401 unauthorized$/);
    expect(r.stdout).not.toContain(LONG_RESULT);
    expect(lines[2]).toContain(LONG_RESULT.slice(0, 30));
    expect(lines[2]!.endsWith("…")).toBe(true);
  });

  test("--json has every row whole", async () => {
    const r = await ctl("audit", "--json", ...asAdmin());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(AUDIT_ROWS);
  });

  test("--since --until --limit --action go to the master as given", async () => {
    const r = await ctlSeen("audit", "--since", "2h", "--until", "2030-01-01T00:00:00Z", "--limit", "50", "--action", "host.drain", ...asAdmin());
    expect(r.code).toBe(0);
    const url = new URL(r.seen[0]!.path, "http://x");
    expect(url.pathname).toBe("/api/v1/audit");
    expect(Object.fromEntries(url.searchParams)).toEqual({ since: "2h", until: "2030-01-01T00:00:00Z", limit: "50", action: "host.drain" });
    const ms = await ctlSeen("audit", "--since", "1700000000000", ...asAdmin());
    expect(ms.seen[0]!.path).toBe("/api/v1/audit?since=1700000000000");
  });

  test("a bad --since, --until, --limit or --action is a usage error (exit 2) and sends nothing", async () => {
    const before = master.seen.length;
    const bad = [
      ["--since", "yesterday"],
      ["--since", "2026-13-45"],
      ["--since", "-5m"],
      ["--until", "soon"],
      ["--since", "1h", "--until", "2h"],
      ["--limit", "0"],
      ["--limit", "10001"],
      ["--limit", "1.5"],
      ["--limit", "ten"],
      ["--action", ""],
    ];
    for (const flags of bad) {
      const r = await ctl("audit", ...flags, ...asAdmin());
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
    }
    expect((await ctl("audit", "--since", "yesterday", ...asAdmin())).stderr).toContain('--since must be ISO 8601');
    expect((await ctl("audit", "--limit", "0", ...asAdmin())).stderr).toContain("--limit must be a whole number from 1 to 10000");
    expect(master.seen.length).toBe(before);
  });
});

describe("lava ctl --help", () => {
  test("lists the new commands", async () => {
    let out = "";
    const prevLog = console.log;
    console.log = (...a: unknown[]) => void (out += a.map(String).join(" ") + "\n");
    try {
      expect(await main(["ctl", "--help"])).toBe(0);
    } finally {
      console.log = prevLog;
    }
    expect(out).toContain("Usage:\n  lava ctl COMMAND");
    for (const name of ["load", "hosts", "host", "status", "submit", "jobs", "job", "cancel", "wait", "drain", "resume", "token", "audit"]) expect(out).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
    expect(out).toContain("Submit a job:");
    expect(out).toContain("Take a host out of scheduling");
  });
});
