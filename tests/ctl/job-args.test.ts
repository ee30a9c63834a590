import { exitStatusOf } from "../../src/main.ts";
import { describe, expect, test } from "bun:test";
import { EXIT } from "../../src/cli/errors.ts";
import { LavaError } from "../../src/errors.ts";
import { afterDashes, repeatedFlag } from "../../src/ctl/args.ts";
import { MasterError } from "../../src/ctl/client.ts";
import { jobId, jobIds, jobsQuery, parseBegin, parseSize, submitRequest, waitOptions, WAIT_INTERVAL_MS } from "../../src/ctl/job-args.ts";
import { WAIT_BACKOFF_CAP_MS, waitForJobs } from "../../src/ctl/wait.ts";

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(LavaError);
    expect(exitStatusOf(error)).toBe(EXIT.usage);
    return (error as Error).message;
  }
  throw new Error("expected a usage error");
}

describe("parseSize", () => {
  test("bytes, or K M G T in powers of 1024, any case, with an optional B or iB", () => {
    expect(parseSize("0")).toBe(0);
    expect(parseSize("1048576")).toBe(1048576);
    expect(parseSize("100B")).toBe(100);
    expect(parseSize("1K")).toBe(1024);
    expect(parseSize("512M")).toBe(512 * 1024 ** 2);
    expect(parseSize("512m")).toBe(512 * 1024 ** 2);
    expect(parseSize("2G")).toBe(2 * 1024 ** 3);
    expect(parseSize("2GB")).toBe(2 * 1024 ** 3);
    expect(parseSize("2GiB")).toBe(2 * 1024 ** 3);
    expect(parseSize("1.5G")).toBe(1.5 * 1024 ** 3);
    expect(parseSize("3T")).toBe(3 * 1024 ** 4);
    expect(parseSize(" 4K ")).toBe(4096);
  });

  test("anything else is null", () => {
    for (const bad of ["", "M", "-1", "-1G", "1.5", "1.5B", "5iB", "1P", "12X", "1 G", "1e3", "0x10", "1,5G", "99999999999T"]) {
      expect(parseSize(bad), bad).toBeNull();
    }
  });
});

describe("repeatedFlag / afterDashes", () => {
  const def = { env: { type: "string" }, queue: { type: "string" }, json: { type: "boolean" } } as const;

  test("every value in order, in both spellings, stopping at --", () => {
    expect(repeatedFlag(["--env", "A=1", "--json", "--env=B=2", "--", "--env", "C=3"], "env", def)).toEqual(["A=1", "B=2"]);
    expect(repeatedFlag(["--json"], "env", def)).toEqual([]);
  });

  test("another string flag's value is not taken for the flag", () => {
    expect(repeatedFlag(["--queue", "--env", "--env", "X=1"], "env", def)).toEqual(["X=1"]);
  });

  test("a flag with no value is a usage error", () => {
    expect(usageError(() => repeatedFlag(["--env"], "env", def))).toBe("--env needs a value");
    usageError(() => repeatedFlag(["--env", "--", "x"], "env", def));
  });

  test("afterDashes: the words after the first --, untouched, or null", () => {
    expect(afterDashes(["--cpus", "2", "--", "ls", "--", "-l"])).toEqual(["ls", "--", "-l"]);
    expect(afterDashes(["--", ""])).toEqual([""]);
    expect(afterDashes(["ls"])).toBeNull();
  });
});

describe("submitRequest", () => {
  test("only the argv when no flag is given, so the master's defaults apply", () => {
    expect(submitRequest({}, ["true"], [], [])).toEqual({ argv: ["true"] });
  });

  test("a later --env for the same name wins; values may hold = and be empty", () => {
    expect(submitRequest({}, ["x"], ["A=1", "B=a=b", "A=2", "C="], []).env).toEqual({ A: "2", B: "a=b", C: "" });
  });

  test("numbers are checked", () => {
    expect(usageError(() => submitRequest({ cpus: "0" }, ["x"], [], []))).toBe('--cpus must be a whole number of at least 1, got "0"');
    expect(usageError(() => submitRequest({ timeout: "1.5" }, ["x"], [], []))).toContain("--timeout must be a whole number of seconds");
    expect(usageError(() => submitRequest({ gpus: "99999999999999999999" }, ["x"], [], []))).toContain("--gpus");
    expect(submitRequest({ priority: "-10", retries: "0", gpus: "0", mem: "0" }, ["x"], [], [])).toEqual({ argv: ["x"], priority: -10, retries: 0, gpus: 0, memBytes: 0 });
  });

  test("no --, nothing after it, or words before it are usage errors", () => {
    expect(usageError(() => submitRequest({}, null, [], []))).toContain("needs a command after --");
    expect(usageError(() => submitRequest({}, [], [], []))).toContain("needs a command after --");
    expect(usageError(() => submitRequest({}, ["ls"], [], ["oops"]))).toContain("put -- before the command");
  });
});

describe("job ids", () => {
  test("positive whole numbers in plain spelling, each once", () => {
    expect(jobId("007", "job")).toBe("7");
    expect(jobIds(["3", "1", "03"], "wait")).toEqual(["3", "1"]);
    for (const bad of ["0", "-1", "1.0", "x", "", "1e3", "99999999999999999999"]) usageError(() => jobId(bad, "job"));
    usageError(() => jobIds([], "cancel"));
  });
});

describe("jobsQuery", () => {
  test("empty without flags; states upper-cased and deduplicated", () => {
    expect(jobsQuery({})).toBe("");
    expect(jobsQuery({ state: "run, pend,RUN" })).toBe("state=RUN%2CPEND");
  });
});

describe("waitOptions", () => {
  test("defaults, fractions of a second, bounds", () => {
    expect(waitOptions({})).toEqual({ timeoutMs: undefined, intervalMs: WAIT_INTERVAL_MS });
    expect(waitOptions({ timeout: "1.5", interval: "20" })).toEqual({ timeoutMs: 1500, intervalMs: 20 });
    for (const timeout of ["0", "-1", "x", "1e3", "Infinity"]) usageError(() => waitOptions({ timeout }));
    for (const interval of ["0", "2.5", "3600001"]) usageError(() => waitOptions({ interval }));
  });
});

describe("waitForJobs", () => {
  /** A clock that only sleep moves, and a client answering from scripts of states. */
  function harness(scripts: Record<string, (string | Error)[]>) {
    let t = 0;
    const sleeps: number[] = [];
    const client = {
      get: async (path: string) => {
        const id = path.split("/").pop()!;
        const script = scripts[id];
        if (!script) throw new MasterError(`no job ${id}`, 404, "unknown_job");
        const next = script.length > 1 ? script.shift()! : script[0]!;
        if (next instanceof Error) throw next;
        return { id: Number(id), state: next, exitCode: next === "DONE" ? 0 : null };
      },
    };
    const hooks = { now: () => t, sleep: async (ms: number) => void (sleeps.push(ms), (t += ms)) };
    return { client, hooks, sleeps, elapsed: () => t };
  }

  test("backs off by half while nothing changes, up to the cap, and starts over on a change", async () => {
    const h = harness({ "1": [...Array(12).fill("PEND"), "RUN", "RUN", "DONE"] });
    const out = await waitForJobs(h.client, ["1"], { timeoutMs: undefined, intervalMs: 500, ...h.hooks });
    expect(out.timedOut).toBe(false);
    expect(out.results).toEqual([{ id: "1", state: "DONE", exitCode: 0, ended: true }]);
    expect(h.sleeps.slice(0, 7)).toEqual([500, 750, 1125, 1688, 2532, 3798, 5000]);
    expect(Math.max(...h.sleeps)).toBe(WAIT_BACKOFF_CAP_MS);
    expect(h.sleeps.at(-2)).toBe(500); // PEND → RUN
  });

  test("the last sleep is cut to the deadline, then one last look", async () => {
    const h = harness({ "1": ["RUN"] });
    const out = await waitForJobs(h.client, ["1"], { timeoutMs: 1000, intervalMs: 400, ...h.hooks });
    expect(out.timedOut).toBe(true);
    expect(out.results[0]).toMatchObject({ state: "RUN", ended: false });
    expect(h.elapsed()).toBe(1000);
  });

  test("an outage after the first answer is waited out, and reported once", async () => {
    const down = new LavaError("no master reachable", "unreachable");
    const h = harness({ "1": ["RUN", down, down, "DONE"] });
    const outages: string[] = [];
    const out = await waitForJobs(h.client, ["1"], { timeoutMs: undefined, intervalMs: 10, onOutage: (m) => outages.push(m), ...h.hooks });
    expect(out.results[0]!.state).toBe("DONE");
    expect(outages).toEqual(["no master reachable"]);
  });

  test("an outage at the first poll, or one that lasts, is thrown", async () => {
    const down = new LavaError("no master reachable", "unreachable");
    const first = harness({ "1": [down] });
    await expect(waitForJobs(first.client, ["1"], { timeoutMs: undefined, intervalMs: 10, ...first.hooks })).rejects.toBe(down);
    const lasting = harness({ "1": ["RUN", down] });
    await expect(waitForJobs(lasting.client, ["1"], { timeoutMs: undefined, intervalMs: 1000, ...lasting.hooks })).rejects.toBe(down);
    expect(lasting.elapsed()).toBeGreaterThan(60_000);
  });

  test("a 401 is thrown at once", async () => {
    const refused = new MasterError("this needs a token", 401, "unauthorized");
    const h = harness({ "1": ["RUN", refused] });
    await expect(waitForJobs(h.client, ["1"], { timeoutMs: undefined, intervalMs: 10, ...h.hooks })).rejects.toBe(refused);
  });
});

describe("submit: the flags of docs/jobs.md", () => {
  const now = Date.parse("2026-06-01T12:00:00Z");
  test("--begin: relative, time of day (today or tomorrow), dates; the past refused", () => {
    expect(parseBegin("+1h", now)).toBe(now + 3_600_000);
    expect(parseBegin("+90s", now)).toBe(now + 90_000);
    expect(parseBegin("now", now)).toBe(now);
    const tod = parseBegin("22:00", now) as number;
    expect(tod).toBeGreaterThan(now);
    expect(tod - now).toBeLessThan(86_400_000);
    expect(new Date(tod).getHours()).toBe(22);
    expect(parseBegin("2030-01-01T00:00Z", now)).toBe(Date.parse("2030-01-01T00:00Z"));
    expect(parseBegin("2001-01-01T00:00", now)).toMatch(/in the past/);
    expect(parseBegin("25:00", now)).toMatch(/not a time of day/);
    expect(parseBegin("tomorrow", now)).toMatch(/--begin takes/);
  });

  test("names, output files, arrays, dependencies and host rules become the body; mistakes are usage errors", () => {
    const body = submitRequest({ name: "sim", output: "out.%j.%a", error: "err.%j", array: "1-100%5", "after-ok": "3,4", "after-any": "5", hosts: "n1,n2", exclude: "n3", constraint: "ssd,ib", exclusive: true, hold: true, "time-limit": "60" }, ["run"], [], [], now);
    expect(body).toEqual({ argv: ["run"], name: "sim", stdoutPath: "out.%j.%a", stderrPath: "err.%j", array: "1-100%5", afterOk: [3, 4], afterAny: [5], hosts: ["n1", "n2"], exclude: ["n3"], constraint: ["ssd", "ib"], exclusive: true, hold: true, timeoutSeconds: 60 });
    for (const [flags, why] of [
      [{ array: "5-1" }, /below the first/],
      [{ "after-ok": "x" }, /not a job id/],
      [{ output: "o.%z" }, /unknown pattern/],
      [{ name: "a\nb" }, /one line/],
      [{ "time-limit": "5", timeout: "5" }, /--time-limit alone/],
    ] as const) {
      expect(() => submitRequest(flags as never, ["run"], [], [], now)).toThrow(why);
    }
    expect(() => submitRequest({}, ["a\0b"], [], [], now)).toThrow(/NUL/);
  });

  test("job ids: plain, or an array element as ID[INDEX] or ID_INDEX", () => {
    expect(jobId("1000[7]", "job")).toBe("1000[7]");
    expect(jobId("1000_7", "job")).toBe("1000[7]");
    expect(() => jobId("1000[x]", "job")).toThrow(/not a job id/);
  });
});
