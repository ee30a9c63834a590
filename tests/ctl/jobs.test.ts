/**
 * The job commands (`lava ctl submit|jobs|job|cancel|wait`) run in-process
 * through main() against a fake master that keeps jobs in memory.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setOutput } from "../../src/ctl/output.ts";
import { main } from "../../src/main.ts";
import { ADMIN_TOKEN, apiError, closedPort, FakeJobs, jobRows, json, listJob, masterApi, serve, type Fake } from "./fake-master.ts";

const dir = mkdtempSync(join(tmpdir(), "lava-ctl-jobs-"));
const configFile = join(dir, "empty.yaml");
writeFileSync(configFile, "");
const savedEnv: Record<string, string | undefined> = {};
let jobs: FakeJobs;
let master: Fake;

beforeAll(async () => {
  for (const k of Object.keys(process.env)) {
    if (k.startsWith("LAVA_")) {
      savedEnv[k] = process.env[k];
      delete process.env[k];
    }
  }
  // The handler reads `jobs` at each request, so each test can start afresh.
  master = await serve((req, url, body) => masterApi(jobs)(req, url, body));
});

beforeEach(() => {
  jobs = new FakeJobs();
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
  seen: typeof master.seen;
}

/** `lava ctl ARGS…` with the test's config file (put before any `--`, where it is still a flag). */
async function ctl(...args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const before = master.seen.length;
  const prevOut = setOutput({ write: (t) => void (stdout += typeof t === "string" ? t : new TextDecoder().decode(t)) });
  const prevErr = console.error;
  const prevLog = console.log;
  console.error = (...a: unknown[]) => void (stderr += a.map(String).join(" ") + "\n");
  console.log = () => {}; // the usage text shown with an unknown flag
  const dd = args.indexOf("--");
  const withConfig = dd < 0 ? [...args, "--config", configFile] : [...args.slice(0, dd), "--config", configFile, ...args.slice(dd)];
  try {
    const code = await main(["ctl", ...withConfig]);
    return { code, stdout, stderr, seen: master.seen.slice(before) };
  } finally {
    setOutput(prevOut);
    console.error = prevErr;
    console.log = prevLog;
  }
}

const at = () => ["--master", master.text];
const asAdmin = () => ["--token", ADMIN_TOKEN, ...at()];

describe("lava ctl submit", () => {
  test("prints only the job id and sends just the argv", async () => {
    const r = await ctl("submit", ...asAdmin(), "--", "true");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("5\n");
    expect(r.stderr).toBe("");
    expect(r.seen).toEqual([{ method: "POST", path: "/api/v1/jobs", authorization: `Bearer ${ADMIN_TOKEN}`, body: { argv: ["true"] } }]);
  });

  test("sends every flag as the body's field, and the argv untouched, flag-like words and all", async () => {
    const argv = ["sh", "-c", "echo $HOME | wc -c", "--cpus", "99", "--json", "--", "", "-x", "--env=Z=9", "a b"];
    const r = await ctl(
      "submit", "--cpus", "4", "--mem", "512M", "--gpus", "1", "--timeout", "3600", "--retries", "2", "--priority", "-5",
      "--queue", "big", "--env", "A=1", "--env=B=x=y", "--env", "EMPTY=", "--cwd", "/srv/work", ...asAdmin(), "--", ...argv,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("5\n");
    expect(r.seen[0]!.body).toEqual({
      argv,
      cpus: 4,
      memBytes: 512 * 1024 ** 2,
      gpus: 1,
      timeoutSeconds: 3600,
      retries: 2,
      priority: -5,
      queue: "big",
      env: { A: "1", B: "x=y", EMPTY: "" },
      cwd: "/srv/work",
    });
  });

  test("--mem takes bytes or K, M, G, T in powers of 1024", async () => {
    const cases: [string, number][] = [["1048576", 1048576], ["64K", 65536], ["2G", 2 * 1024 ** 3], ["1.5g", 1.5 * 1024 ** 3], ["1T", 1024 ** 4], ["256MiB", 256 * 1024 ** 2]];
    for (const [size, bytes] of cases) {
      const r = await ctl("submit", "--mem", size, ...asAdmin(), "--", "true");
      expect(r.code, size).toBe(0);
      expect((r.seen[0]!.body as { memBytes: number }).memBytes, size).toBe(bytes);
    }
  });

  test("--json prints the master's whole answer", async () => {
    const r = await ctl("submit", "--json", ...asAdmin(), "--", "echo", "hi");
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().includes("\n")).toBe(false);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 5, state: "PEND", argv: ["echo", "hi"], cpus: 1 });
  });

  test("bad flags, no command, or a command without -- are usage errors (exit 2) and send nothing", async () => {
    const bad: string[][] = [
      ["--mem", "lots", "--", "true"],
      ["--mem", "12X", "--", "true"],
      ["--mem", "1.5", "--", "true"],
      ["--mem", "-1G", "--", "true"],
      ["--cpus", "0", "--", "true"],
      ["--cpus", "1.5", "--", "true"],
      ["--gpus", "-1", "--", "true"],
      ["--timeout", "0", "--", "true"],
      ["--timeout", "1m", "--", "true"],
      ["--retries", "many", "--", "true"],
      ["--priority", "high", "--", "true"],
      ["--queue", "", "--", "true"],
      ["--cwd", "", "--", "true"],
      ["--env", "NOVALUE", "--", "true"],
      ["--env", "=1", "--", "true"],
      ["--bogus", "--", "true"],
      ["--"],
      ["--", ""],
      [],
      ["true"],
      ["ls", "--", "-l"],
    ];
    for (const args of bad) {
      const dd = args.indexOf("--") < 0 ? args.length : args.indexOf("--");
      const r = await ctl("submit", ...args.slice(0, dd), ...asAdmin(), ...args.slice(dd));
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout, args.join(" ")).toBe("");
      expect(r.seen, args.join(" ")).toEqual([]);
    }
    expect((await ctl("submit", "--mem", "lots", ...asAdmin(), "--", "true")).stderr).toContain("--mem must be a size");
    expect((await ctl("submit", ...asAdmin())).stderr).toContain("needs a command after --");
    expect((await ctl("submit", ...asAdmin(), "ls", "-l")).code).toBe(2);
    expect((await ctl("submit", ...asAdmin(), "sleep", "5")).stderr).toContain("put -- before the command to run: lava ctl submit [flags] -- sleep 5");
  });

  test("a refusal (400) is a usage error: exit 2 with the master's detail", async () => {
    const r = await ctl("submit", "--cpus", "128", ...asAdmin(), "--", "true");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("lava: no host could ever fit 128 cpus (the largest has 64)\n");
  });

  test("without an admin token: exit 1 naming the role", async () => {
    const r = await ctl("submit", "--token", "read-token", ...at(), "--", "true");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("role");
  });

  test("the command line's own --timeout is the job's, not the request timeout", async () => {
    // A job timeout far longer than any request could wait is fine, and goes in the body.
    const r = await ctl("submit", "--timeout", "86400", ...asAdmin(), "--", "true");
    expect(r.code).toBe(0);
    expect(r.seen[0]!.body).toEqual({ argv: ["true"], timeoutSeconds: 86400 });
  });
});

describe("lava ctl jobs", () => {
  test("the table: ID STATE USER QUEUE HOST EXIT ELAPSED SUBMITTED COMMAND, a row per job in id order", async () => {
    const r = await ctl("jobs", ...at());
    expect(r.code).toBe(0);
    expect(r.seen[0]).toMatchObject({ method: "GET", path: "/api/v1/jobs" });
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]!.split(/\s+/)).toEqual(["ID", "STATE", "USER", "QUEUE", "HOST", "EXIT", "ELAPSED", "SUBMITTED", "COMMAND"]);
    expect(lines).toHaveLength(5);
    // USER and ELAPSED are "-" here: the fake master's rows do not carry them.
    expect(lines[1]).toMatch(/^\s*1\s+DONE\s+-\s+normal\s+alpha\s+0\s+-\s+2026-11-22 21:04:05\s+echo 'hello world'$/);
    expect(lines[2]).toMatch(/^\s*2\s+RUN\s+-\s+normal\s+alpha\s+-\s+-\s+2026-11-22 21:05:00\s+sleep 600$/);
    expect(lines[3]).toMatch(/^\s*3\s+PEND\s+-\s+big\s+-\s+-\s+-\s+2026-11-22 21:06:00\s+python3 -c /);
    expect(lines[3]!.endsWith("…")).toBe(true);
    expect(lines[4]).toMatch(/^\s*4\s+EXIT\s+-\s+normal\s+beta\s+2\s+-\s+2026-11-22 21:07:00\s+make test$/);
    const wide = (await ctl("jobs", "--wide", ...at())).stdout.split("\n");
    expect(wide[0]!.split(/\s+/)).toEqual(["ID", "STATE", "USER", "QUEUE", "HOST", "EXIT", "ELAPSED", "CPUS", "MEM", "GPUS", "STARTED", "NAME", "SUBMITTED", "COMMAND"]);
    expect(wide[2]).toMatch(/\s2\s+512M\s+0\s/);
  });

  test("--json is the array as returned", async () => {
    const r = await ctl("jobs", "--json", ...at());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(jobRows().map(listJob));
  });

  test("--state --host --queue --limit go to the master, states upper-cased", async () => {
    const r = await ctl("jobs", "--json", "--state", "pend,RUN", "--host", "alpha", "--queue", "normal", "--limit", "10", ...at());
    expect(r.code).toBe(0);
    const url = new URL(r.seen[0]!.path, "http://x");
    expect(Object.fromEntries(url.searchParams)).toEqual({ state: "PEND,RUN", host: "alpha", queue: "normal", limit: "10" });
    expect(JSON.parse(r.stdout).map((j: { id: number }) => j.id)).toEqual([2]);
  });

  test("no jobs: just the header", async () => {
    const r = await ctl("jobs", "--state", "LOST", ...at());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("ID  STATE  USER  QUEUE  HOST  EXIT  ELAPSED  SUBMITTED  COMMAND\n");
  });

  test("a bad --state, --limit, --host or --queue is a usage error (exit 2) and sends nothing", async () => {
    for (const flags of [["--state", "RUNNING"], ["--state", "PEND,"], ["--limit", "0"], ["--limit", "x"], ["--host", ""], ["--queue", " "]]) {
      const r = await ctl("jobs", ...flags, ...at());
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.seen).toEqual([]);
    }
    expect((await ctl("jobs", "--state", "RUNNING", ...at())).stderr).toContain("PEND, RUN, DONE, EXIT, KILLED, LOST");
  });
});

describe("lava ctl job", () => {
  test("a pending job: its facts and why it waits", async () => {
    const r = await ctl("job", "3", ...at());
    expect(r.code).toBe(0);
    expect(r.seen[0]).toMatchObject({ method: "GET", path: "/api/v1/jobs/3" });
    expect(r.stdout).toMatch(/^job\s+3$/m);
    expect(r.stdout).toMatch(/^state\s+PEND$/m);
    expect(r.stdout).toMatch(/^waiting\s+needs 32 cpus; the hosts that have them are busy$/m);
    expect(r.stdout).toMatch(/^queue\s+big \(priority 5\)$/m);
    expect(r.stdout).toMatch(/^request\s+32 cpus, no memory, 1 gpu$/m);
    expect(r.stdout).toContain("python3 -c 'import time; time.sleep(1)' --with-a-rather-long-flag=and-a-long-value");
    expect(r.stdout).toContain("stdout: none");
  });

  test("an ended job: history, then stdout and stderr, the truncated one marked", async () => {
    const done = await ctl("job", "1", ...at());
    expect(done.code).toBe(0);
    expect(done.stdout).not.toContain("waiting");
    expect(done.stdout).toMatch(/^cwd\s+\/tmp$/m);
    expect(done.stdout).toMatch(/^env\s+GREETING=hi$/m);
    expect(done.stdout).toMatch(/^time limit\s+60 s$/m);
    expect(done.stdout).toMatch(/^2026-11-22 21:04:07\s+DONE\s+alpha\s+1\s+exit 0$/m);
    expect(done.stdout).toContain("\n\nstdout:\nhello world\n\nstderr: empty\n");
    const failed = await ctl("job", "4", ...at());
    expect(failed.stdout).toMatch(/^exit code\s+2$/m);
    expect(failed.stdout).toContain("stderr (truncated: the master kept only part of it):\nmake: *** [test] Error 2\n");
  });

  test("--json is the job as returned, with stdout, stderr and attempts", async () => {
    const r = await ctl("job", "1", "--json", ...at());
    expect(r.code).toBe(0);
    const job = JSON.parse(r.stdout);
    expect(job).toEqual(jobRows()[0]!);
    expect(job).toMatchObject({ stdout: "hello world\n", stderr: "", attempts: 1 });
  });

  test("an unknown job exits 1 with the master's detail", async () => {
    const r = await ctl("job", "99", ...at());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("lava: no job 99\n");
  });

  test("no ID, two IDs, or one that is not a job id: usage error (exit 2), nothing sent", async () => {
    for (const args of [[], ["1", "2"], ["abc"], ["0"], ["-1"], ["1.5"]]) {
      const r = await ctl("job", ...args, ...at());
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.seen).toEqual([]);
    }
  });
});

describe("lava ctl cancel", () => {
  test("prints 'ID KILLED' for each and POSTs to each one's cancel", async () => {
    const r = await ctl("cancel", "2", "3", ...asAdmin());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("2 KILLED\n3 KILLED\n");
    expect(r.stderr).toBe("");
    expect(r.seen.map((s) => `${s.method} ${s.path}`)).toEqual(["POST /api/v1/jobs/2/cancel", "POST /api/v1/jobs/3/cancel"]);
    expect(jobs.jobs.get(2)!.state).toBe("KILLED");
  });

  test("an ended job (409) exits 1 with the master's detail", async () => {
    const r = await ctl("cancel", "1", ...asAdmin());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("lava: cannot cancel job 1: job 1 already ended DONE\n");
  });

  test("an unknown (404) or ended job fails, the others are still cancelled, exit 1", async () => {
    const r = await ctl("cancel", "99", "2", "4", "3", ...asAdmin());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("2 KILLED\n3 KILLED\n");
    expect(r.stderr).toContain("lava: cannot cancel job 99: no job 99\n");
    expect(r.stderr).toContain("lava: cannot cancel job 4: job 4 already ended EXIT\n");
    expect(r.stderr).toContain("lava: 2 of 4 jobs not cancelled\n");
    expect(r.seen).toHaveLength(4);
  });

  test("--json: one array, the master's answer or the error for each", async () => {
    const r = await ctl("cancel", "2", "1", "--json", ...asAdmin());
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([{ id: 2, state: "KILLED" }, { id: 1, error: "job_ended", detail: "job 1 already ended DONE" }]);
  });

  test("a read token stops at the first refusal: exit 1 naming the role", async () => {
    const r = await ctl("cancel", "2", "3", "--token", "read-token", ...at());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("role");
    expect(r.seen).toHaveLength(1);
  });

  test("no ID or a bad one: usage error (exit 2), nothing sent", async () => {
    for (const args of [[], ["2", "x"]]) {
      const r = await ctl("cancel", ...args, ...asAdmin());
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.seen).toEqual([]);
    }
  });
});

describe("lava ctl wait", () => {
  test("exit 0 when all end DONE, printing 'ID STATE' as each ends", async () => {
    const a = jobs.submit({ argv: ["true"] });
    const b = jobs.add(["RUN", "RUN", "RUN", "RUN", "DONE"]);
    const r = await ctl("wait", String(a.id), String(b.id), "--interval", "1", ...at());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${a.id} DONE\n${b.id} DONE\n`);
    expect(r.stderr).toBe("");
    expect(r.seen.every((s) => s.method === "GET" && /^\/api\/v1\/jobs\/\d+$/.test(s.path))).toBe(true);
    // a ends on its third GET, b on its fifth; neither is asked about once it has ended.
    expect(r.seen.filter((s) => s.path === `/api/v1/jobs/${a.id}`)).toHaveLength(3);
    expect(r.seen.filter((s) => s.path === `/api/v1/jobs/${b.id}`)).toHaveLength(5);
  });

  test("a job submitted by submit is waited for: id=$(lava ctl submit -- true); lava ctl wait $id", async () => {
    const id = (await ctl("submit", ...asAdmin(), "--", "true")).stdout.trim();
    const r = await ctl("wait", id, "--interval", "1", ...at());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${id} DONE\n`);
  });

  test("exit 1 when one ends EXIT; the others are still waited for", async () => {
    const ok = jobs.submit({ argv: ["true"] });
    const bad = jobs.submit({ argv: ["false"] });
    const r = await ctl("wait", String(ok.id), String(bad.id), "--interval", "1", ...at());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${ok.id} DONE\n${bad.id} EXIT\n`);
  });

  test("ended jobs answer at once: DONE exits 0, KILLED exits 1", async () => {
    expect((await ctl("wait", "1", ...at())).code).toBe(0);
    const k = jobs.add(["KILLED"]);
    const r = await ctl("wait", "1", String(k.id), ...at());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`1 DONE\n${k.id} KILLED\n`);
  });

  test("an unknown job: exit 1 naming it, the others still waited for", async () => {
    const a = jobs.submit({ argv: ["true"] });
    const r = await ctl("wait", "99", String(a.id), "--interval", "1", ...at());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${a.id} DONE\n`);
    expect(r.stderr).toBe("lava: job 99: no job 99\n");
  });

  test("--timeout: exit 1 saying which are still going, after printing those that ended", async () => {
    const started = Date.now();
    const r = await ctl("wait", "1", "2", "3", "--timeout", "0.2", "--interval", "20", ...at());
    const took = Date.now() - started;
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("1 DONE\n");
    expect(r.stderr).toBe("lava: timed out after 0.2 s; not ended yet: 2 (RUN), 3 (PEND)\n");
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(2000);
  });

  test("--json: one array at the end with each job's id, state, exit code", async () => {
    const bad = jobs.submit({ argv: ["false"] });
    const r = await ctl("wait", "1", String(bad.id), "--json", "--interval", "1", ...at());
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([
      { id: 1, state: "DONE", exitCode: 0, ended: true },
      { id: bad.id, state: "EXIT", exitCode: 1, ended: true },
    ]);
  });

  test("bad --timeout, --interval or ID: usage error (exit 2), nothing sent", async () => {
    for (const args of [[], ["x"], ["1", "--timeout", "0"], ["1", "--timeout", "soon"], ["1", "--interval", "0"], ["1", "--interval", "1.5"]]) {
      const r = await ctl("wait", ...args, ...at());
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.seen).toEqual([]);
    }
  });

  test("a master that answers 503 for a while is waited out, once it has answered", async () => {
    let gets = 0;
    const flaky = await serve((req, url, body) => {
      gets++;
      if (gets === 2 || gets === 3) return apiError(503, "no_leader", "electing a leader");
      return masterApi(jobs)(req, url, body);
    });
    try {
      const a = jobs.submit({ argv: ["true"] });
      const r = await ctl("wait", String(a.id), "--interval", "1", "--master", flaky.text);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${a.id} DONE\n`);
      expect(r.stderr).toBe("lava: electing a leader (HTTP 503 from " + flaky.text + "); still waiting\n");
    } finally {
      await flaky.stop();
    }
  });

  test("a master that fails from the first poll is not waited out", async () => {
    const down = await serve(() => apiError(503, "no_leader", "electing a leader"));
    try {
      const r = await ctl("wait", "1", "--master", down.text);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("electing a leader");
      expect(down.seen).toHaveLength(1);
    } finally {
      await down.stop();
    }
  });

  test("no master reachable at the first poll: exit 3", async () => {
    const dead = await closedPort();
    const r = await ctl("wait", "1", "--master", `127.0.0.1:${dead.port}`);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("no master reachable");
  });

  test("a non-object answer is an error, not a wait forever", async () => {
    const odd = await serve(() => json([]));
    try {
      const r = await ctl("wait", "1", "--master", odd.text);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("not an object");
    } finally {
      await odd.stop();
    }
  });
});
